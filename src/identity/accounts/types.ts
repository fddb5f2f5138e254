/** Accounts and groups of Tenet's directory, as stored (documents) and returned by the API. */

export type UserStatus = "invited" | "active" | "suspended";

export interface User {
  /** Immutable: the `sub` of tokens and the `user:<id>` of relationship tuples. */
  id: string;
  /** Unique, case-insensitively; may change (SCIM `userName`). */
  username: string;
  email?: string | undefined;
  emailVerified?: boolean | undefined;
  displayName?: string | undefined;
  givenName?: string | undefined;
  familyName?: string | undefined;
  status: UserStatus;
  /** Why it was suspended, when it is. */
  suspendedReason?: string | undefined;
  /** Group ids, kept in step with the groups' member lists. */
  groups: string[];
  managerId?: string | undefined;
  /** The id an upstream directory (SCIM `externalId`) or IdP knows it by. */
  externalId?: string | undefined;
  createdAt: string;
  updatedAt: string;
  /** The document's version: pass it back to update only what you read. */
  version: number;
}

export interface Group {
  /** Immutable: `group:<id>` in relationship tuples. */
  id: string;
  /** Unique, case-insensitively (SCIM `displayName`). */
  name: string;
  members: string[];
  externalId?: string | undefined;
  createdAt: string;
  updatedAt: string;
  version: number;
}

export interface NewUser {
  id?: string | undefined;
  username: string;
  email?: string | undefined;
  emailVerified?: boolean | undefined;
  displayName?: string | undefined;
  givenName?: string | undefined;
  familyName?: string | undefined;
  /** `invited` (default when created by an admin for an invitation) or `active`. */
  status?: "invited" | "active" | undefined;
  managerId?: string | undefined;
  externalId?: string | undefined;
}

export type UserPatch = { [K in keyof Omit<NewUser, "id" | "status" | "managerId">]?: NewUser[K] | undefined } & { managerId?: string | null | undefined };

export interface NewGroup {
  id?: string | undefined;
  name: string;
  members?: string[] | undefined;
  externalId?: string | undefined;
}
