/**
 * The directory: users, groups and who manages whom, in documents storage.
 *
 * Unique names (usernames, e-mail addresses, group names, external ids) are index documents whose
 * id is the name's key: creating one with expected version 0 is the uniqueness check, even between
 * replicas. The index is written before the record it points to and removed after it, so a crash
 * between the two leaves an index entry that points at nothing (or at a record with another
 * name); such an entry is stale and is taken over by the next claim.
 *
 * Group membership and managers are also relationship tuples (`group:<g>#member@user:<u>`,
 * `user:<u>#manager@user:<m>`) in the directory store when one is configured, so that access
 * policies and just-in-time approvals can use them. The directory's documents are the source of
 * truth; tuples that fail to write are reported and rewritten by `syncTuples`.
 */
import { TenetError } from "../../errors.js";
import { DocumentConflict, type DocumentRecord, type DocumentsBackend } from "../../storage/interfaces.js";
import { ulid } from "../../util/ulid.js";
import type { IdentityEvents } from "../events.js";
import type { ChangeRecorder } from "../../audit/change-recorder.js";
import type { Group, NewGroup, NewUser, User, UserPatch } from "./types.js";
import { checkEmail, checkId, checkText, isId, nameKey } from "./validate.js";

export const USERS = "identity.users";
export const GROUPS = "identity.groups";
const USER_NAMES = "identity.user-names";
const USER_EMAILS = "identity.user-emails";
const USER_EXTERNAL = "identity.user-external";
const GROUP_NAMES = "identity.group-names";
const GROUP_EXTERNAL = "identity.group-external";

interface IndexEntry {
  id: string;
}

/** Where membership and manager tuples go (the policy plane), when configured. */
export interface DirectoryTuples {
  /** Applies the changes; tuples that already exist (writes) or are gone (deletes) are fine. */
  apply(writes: Array<{ object: string; relation: string; user: string }>, deletes: Array<{ object: string; relation: string; user: string }>): Promise<void>;
}

export interface DirectoryOptions {
  documents: DocumentsBackend;
  events?: IdentityEvents | undefined;
  tuples?: DirectoryTuples | undefined;
  onProblem?: (message: string, err?: unknown) => void;
  /** Every change, recorded in the audit log (OCSF Entity Management) after it is stored. */
  changes?: ChangeRecorder | undefined;
  now?: () => number;
}

type UserBody = Omit<User, "version" | "createdAt" | "updatedAt">;
type GroupBody = Omit<Group, "version" | "createdAt" | "updatedAt">;

function userOf(r: DocumentRecord<UserBody>): User {
  return { ...r.body, createdAt: r.createdAt, updatedAt: r.updatedAt, version: r.version };
}
function groupOf(r: DocumentRecord<GroupBody>): Group {
  return { ...r.body, createdAt: r.createdAt, updatedAt: r.updatedAt, version: r.version };
}

const managerTuple = (userId: string, managerId: string) => ({ object: `user:${userId}`, relation: "manager", user: `user:${managerId}` });
const memberTuple = (groupId: string, userId: string) => ({ object: `group:${groupId}`, relation: "member", user: `user:${userId}` });

export class Directory {
  private readonly docs: DocumentsBackend;

  constructor(private readonly opts: DirectoryOptions) {
    this.docs = opts.documents;
  }

  // ---- users ----

  async createUser(input: NewUser): Promise<User> {
    const username = checkText(input.username, "username", 128)!;
    const email = checkEmail(input.email);
    const id = await this.freeId(USERS, input.id, username);
    if (input.managerId !== undefined) await this.requireUser(input.managerId, "manager");
    const body: UserBody = {
      id,
      username,
      email,
      emailVerified: input.emailVerified,
      displayName: checkText(input.displayName, "displayName"),
      givenName: checkText(input.givenName, "givenName"),
      familyName: checkText(input.familyName, "familyName"),
      status: input.status ?? "invited",
      groups: [],
      managerId: input.managerId,
      externalId: checkText(input.externalId, "externalId"),
    };
    const claimed: Array<[string, string]> = [];
    try {
      if (await this.claim(USER_NAMES, nameKey(username), id, USERS, (u: UserBody) => nameKey(u.username), "username")) claimed.push([USER_NAMES, nameKey(username)]);
      if (email && (await this.claim(USER_EMAILS, nameKey(email), id, USERS, (u: UserBody) => (u.email ? nameKey(u.email) : ""), "email"))) claimed.push([USER_EMAILS, nameKey(email)]);
      if (body.externalId && (await this.claim(USER_EXTERNAL, body.externalId, id, USERS, (u: UserBody) => u.externalId ?? "", "externalId"))) claimed.push([USER_EXTERNAL, body.externalId]);
      await this.docs.putDocument(USERS, id, body, 0);
    } catch (err) {
      for (const [c, k] of claimed) await this.docs.deleteDocument(c, k).catch(() => undefined);
      if (err instanceof DocumentConflict) throw new TenetError("conflict", `a user with id ${id} already exists`);
      throw err;
    }
    if (body.managerId) await this.tuples([managerTuple(id, body.managerId)], []);
    await this.recordChange("identity.user.create", "create", { type: "user", uid: id }, { status: body.status });
    return (await this.getUser(id))!;
  }

  async getUser(id: string): Promise<User | undefined> {
    if (!isId(id)) return undefined;
    const r = await this.docs.getDocument<UserBody>(USERS, id);
    return r ? userOf(r) : undefined;
  }

  async requireUser(id: string, what = "user"): Promise<User> {
    const u = await this.getUser(id);
    if (!u) throw new TenetError("not_found", `${what} ${id} does not exist`);
    return u;
  }

  async findByUsername(username: string): Promise<User | undefined> {
    return this.findVia(USER_NAMES, nameKey(username), (u) => nameKey(u.username) === nameKey(username));
  }

  async findByEmail(email: string): Promise<User | undefined> {
    return this.findVia(USER_EMAILS, nameKey(email), (u) => u.email !== undefined && nameKey(u.email) === nameKey(email));
  }

  async findByExternalId(externalId: string): Promise<User | undefined> {
    return this.findVia(USER_EXTERNAL, externalId, (u) => u.externalId === externalId);
  }

  /** Users in id order, after `after`, at most `limit`. */
  async listUsers(opts: { after?: string | undefined; limit?: number | undefined } = {}): Promise<User[]> {
    const rows = await this.docs.listDocuments<UserBody>(USERS, { ...(opts.after !== undefined ? { after: opts.after } : {}), limit: Math.min(opts.limit ?? 100, 1000) });
    return rows.map(userOf);
  }

  /** Changes profile fields; `expectedVersion` (optional) refuses an update of a stale read. */
  async updateUser(id: string, patch: UserPatch, expectedVersion?: number): Promise<User> {
    return this.mutateUser(id, expectedVersion, async (u) => {
      const next: UserBody = { ...u };
      const claims: Array<() => Promise<unknown>> = [];
      const releases: Array<[string, string]> = [];
      if (patch.username !== undefined && patch.username !== u.username) {
        const username = checkText(patch.username, "username", 128)!;
        if (nameKey(username) !== nameKey(u.username)) {
          claims.push(() => this.claim(USER_NAMES, nameKey(username), id, USERS, (x: UserBody) => nameKey(x.username), "username"));
          releases.push([USER_NAMES, nameKey(u.username)]);
        }
        next.username = username;
      }
      if (patch.email !== undefined && patch.email !== u.email) {
        const email = checkEmail(patch.email)!;
        if (!u.email || nameKey(email) !== nameKey(u.email)) {
          claims.push(() => this.claim(USER_EMAILS, nameKey(email), id, USERS, (x: UserBody) => (x.email ? nameKey(x.email) : ""), "email"));
          if (u.email) releases.push([USER_EMAILS, nameKey(u.email)]);
        }
        next.email = email;
        next.emailVerified = patch.emailVerified ?? false;
      } else if (patch.emailVerified !== undefined) next.emailVerified = patch.emailVerified;
      if (patch.externalId !== undefined && patch.externalId !== u.externalId) {
        const ext = checkText(patch.externalId, "externalId")!;
        claims.push(() => this.claim(USER_EXTERNAL, ext, id, USERS, (x: UserBody) => x.externalId ?? "", "externalId"));
        if (u.externalId) releases.push([USER_EXTERNAL, u.externalId]);
        next.externalId = ext;
      }
      for (const k of ["displayName", "givenName", "familyName"] as const) {
        if (patch[k] !== undefined) next[k] = checkText(patch[k], k);
      }
      if (patch.managerId !== undefined) {
        if (patch.managerId === null) delete next.managerId;
        else {
          if (patch.managerId === id) throw new TenetError("validation_error", "a user cannot be their own manager");
          await this.requireUser(patch.managerId, "manager");
          next.managerId = patch.managerId;
        }
      }
      for (const c of claims) await c();
      return { next, after: releases };
    }).then(async ({ user, before }) => {
      if (before.managerId !== user.managerId) {
        await this.tuples(user.managerId ? [managerTuple(id, user.managerId)] : [], before.managerId ? [managerTuple(id, before.managerId)] : []);
      }
      await this.recordChange("identity.user.update", "update", { type: "user", uid: id }, { fields: Object.keys(patch).filter((k) => (patch as Record<string, unknown>)[k] !== undefined) });
      return user;
    });
  }

  /** Suspends the account: it cannot sign in, and its sessions end (via the `user.suspended` event). */
  async suspend(id: string, reason?: string): Promise<User> {
    const why = checkText(reason, "reason", 512);
    const { user, before } = await this.mutateUser(id, undefined, async (u) => ({ next: { ...u, status: "suspended" as const, suspendedReason: why }, after: [] }));
    await this.recordChange("identity.user.suspend", "update", { type: "user", uid: id }, { status: "suspended", reason: why });
    if (before.status !== "suspended") await this.opts.events?.emit({ type: "user.suspended", userId: id, reason: why });
    return user;
  }

  async reactivate(id: string): Promise<User> {
    const { user, before } = await this.mutateUser(id, undefined, async (u) => {
      const next: UserBody = { ...u, status: "active" };
      delete next.suspendedReason;
      return { next, after: [] };
    });
    await this.recordChange("identity.user.reactivate", "update", { type: "user", uid: id }, { status: "active" });
    if (before.status === "suspended") await this.opts.events?.emit({ type: "user.reactivated", userId: id });
    return user;
  }

  /** An invited user becomes active when they first register a credential. */
  async activate(id: string): Promise<User> {
    const u = await this.requireUser(id);
    if (u.status !== "invited") return u;
    return (await this.mutateUser(id, undefined, async (b) => ({ next: { ...b, status: b.status === "invited" ? ("active" as const) : b.status }, after: [] }))).user;
  }

  async deleteUser(id: string): Promise<boolean> {
    const u = await this.getUser(id);
    if (!u) return false;
    for (const g of u.groups) await this.removeMember(g, id).catch(() => undefined);
    await this.docs.deleteDocument(USERS, id);
    await this.docs.deleteDocument(USER_NAMES, nameKey(u.username));
    if (u.email) await this.docs.deleteDocument(USER_EMAILS, nameKey(u.email));
    if (u.externalId) await this.docs.deleteDocument(USER_EXTERNAL, u.externalId);
    if (u.managerId) await this.tuples([], [managerTuple(id, u.managerId)]);
    await this.recordChange("identity.user.delete", "delete", { type: "user", uid: id });
    await this.opts.events?.emit({ type: "user.deleted", userId: id });
    return true;
  }

  // ---- groups ----

  async createGroup(input: NewGroup): Promise<Group> {
    const name = checkText(input.name, "name", 128)!;
    const id = await this.freeId(GROUPS, input.id, name);
    const externalId = checkText(input.externalId, "externalId");
    const members = [...new Set(input.members ?? [])];
    for (const m of members) await this.requireUser(m, "member");
    const claimed: Array<[string, string]> = [];
    try {
      if (await this.claim(GROUP_NAMES, nameKey(name), id, GROUPS, (g: GroupBody) => nameKey(g.name), "group name")) claimed.push([GROUP_NAMES, nameKey(name)]);
      if (externalId && (await this.claim(GROUP_EXTERNAL, externalId, id, GROUPS, (g: GroupBody) => g.externalId ?? "", "externalId"))) claimed.push([GROUP_EXTERNAL, externalId]);
      await this.docs.putDocument(GROUPS, id, { id, name, members: [], externalId } satisfies GroupBody, 0);
    } catch (err) {
      for (const [c, k] of claimed) await this.docs.deleteDocument(c, k).catch(() => undefined);
      if (err instanceof DocumentConflict) throw new TenetError("conflict", `a group with id ${id} already exists`);
      throw err;
    }
    await this.recordChange("identity.group.create", "create", { type: "group", uid: id }, { name });
    if (members.length > 0) return this.setMembers(id, members);
    return (await this.getGroup(id))!;
  }

  async getGroup(id: string): Promise<Group | undefined> {
    if (!isId(id)) return undefined;
    const r = await this.docs.getDocument<GroupBody>(GROUPS, id);
    return r ? groupOf(r) : undefined;
  }

  async requireGroup(id: string): Promise<Group> {
    const g = await this.getGroup(id);
    if (!g) throw new TenetError("not_found", `group ${id} does not exist`);
    return g;
  }

  async findGroupByName(name: string): Promise<Group | undefined> {
    const e = await this.docs.getDocument<IndexEntry>(GROUP_NAMES, nameKey(name));
    const g = e ? await this.getGroup(e.body.id) : undefined;
    return g && nameKey(g.name) === nameKey(name) ? g : undefined;
  }

  async findGroupByExternalId(externalId: string): Promise<Group | undefined> {
    const e = await this.docs.getDocument<IndexEntry>(GROUP_EXTERNAL, externalId);
    const g = e ? await this.getGroup(e.body.id) : undefined;
    return g && g.externalId === externalId ? g : undefined;
  }

  async listGroups(opts: { after?: string | undefined; limit?: number | undefined } = {}): Promise<Group[]> {
    const rows = await this.docs.listDocuments<GroupBody>(GROUPS, { ...(opts.after !== undefined ? { after: opts.after } : {}), limit: Math.min(opts.limit ?? 100, 1000) });
    return rows.map(groupOf);
  }

  async renameGroup(id: string, name: string, externalId?: string): Promise<Group> {
    const n = checkText(name, "name", 128)!;
    const g = await this.requireGroup(id);
    if (nameKey(n) !== nameKey(g.name)) await this.claim(GROUP_NAMES, nameKey(n), id, GROUPS, (x: GroupBody) => nameKey(x.name), "group name");
    if (externalId !== undefined && externalId !== g.externalId) await this.claim(GROUP_EXTERNAL, externalId, id, GROUPS, (x: GroupBody) => x.externalId ?? "", "externalId");
    const body: GroupBody = { id, name: n, members: g.members, externalId: externalId ?? g.externalId };
    try {
      await this.docs.putDocument(GROUPS, id, body, g.version);
    } catch (err) {
      if (err instanceof DocumentConflict) throw new TenetError("conflict", `group ${id} changed meanwhile; read it again`);
      throw err;
    }
    if (nameKey(n) !== nameKey(g.name)) await this.docs.deleteDocument(GROUP_NAMES, nameKey(g.name));
    if (externalId !== undefined && g.externalId && externalId !== g.externalId) await this.docs.deleteDocument(GROUP_EXTERNAL, g.externalId);
    return (await this.getGroup(id))!;
  }

  async addMember(groupId: string, userId: string): Promise<Group> {
    return this.changeMembers(groupId, (current) => (current.includes(userId) ? current : [...current, userId]));
  }

  async removeMember(groupId: string, userId: string): Promise<Group> {
    return this.changeMembers(groupId, (current) => current.filter((m) => m !== userId));
  }

  /** Replaces the member list; users' `groups` and the member tuples follow. */
  async setMembers(groupId: string, members: string[]): Promise<Group> {
    return this.changeMembers(groupId, () => members);
  }

  /**
   * Read-modify-write of a member list: `next` is applied to each fresh read, so concurrent
   * additions and removals by different callers are all kept.
   */
  private async changeMembers(groupId: string, next: (current: string[]) => string[]): Promise<Group> {
    for (let attempt = 0; ; attempt++) {
      const g = await this.requireGroup(groupId);
      const want = [...new Set(next(g.members))];
      if (want.length === g.members.length && want.every((m, i) => m === g.members[i])) return g;
      const added = want.filter((m) => !g.members.includes(m));
      const removed = g.members.filter((m) => !want.includes(m));
      for (const m of added) await this.requireUser(m, "member");
      try {
        await this.docs.putDocument(GROUPS, groupId, { id: g.id, name: g.name, members: want, externalId: g.externalId } satisfies GroupBody, g.version);
      } catch (err) {
        if (err instanceof DocumentConflict && attempt < 20) continue;
        if (err instanceof DocumentConflict) throw new TenetError("conflict", `group ${groupId} is changing too fast; try again`);
        throw err;
      }
      for (const m of added) await this.mutateUser(m, undefined, async (u) => ({ next: { ...u, groups: [...new Set([...u.groups, groupId])] }, after: [] })).catch(() => undefined);
      for (const m of removed) await this.mutateUser(m, undefined, async (u) => ({ next: { ...u, groups: u.groups.filter((x) => x !== groupId) }, after: [] })).catch(() => undefined);
      await this.tuples(added.map((m) => memberTuple(groupId, m)), removed.map((m) => memberTuple(groupId, m)));
      await this.recordChange("identity.group.members", "update", { type: "group", uid: groupId }, { added, removed });
      return (await this.getGroup(groupId))!;
    }
  }

  async deleteGroup(id: string): Promise<boolean> {
    const g = await this.getGroup(id);
    if (!g) return false;
    await this.setMembers(id, []);
    await this.docs.deleteDocument(GROUPS, id);
    await this.docs.deleteDocument(GROUP_NAMES, nameKey(g.name));
    if (g.externalId) await this.docs.deleteDocument(GROUP_EXTERNAL, g.externalId);
    await this.recordChange("identity.group.delete", "delete", { type: "group", uid: id });
    return true;
  }

  /** Group names of a user (for the `groups` claim). */
  async groupNames(user: User): Promise<string[]> {
    const names: string[] = [];
    for (const id of user.groups) {
      const g = await this.getGroup(id);
      if (g) names.push(g.name);
    }
    return names;
  }

  /** Rewrites every membership and manager tuple (after the tuple store was unavailable). */
  async syncTuples(): Promise<void> {
    let after: string | undefined;
    for (;;) {
      const users = await this.listUsers({ after, limit: 500 });
      if (users.length === 0) break;
      await this.tuples(users.filter((u) => u.managerId).map((u) => managerTuple(u.id, u.managerId!)), []);
      after = users[users.length - 1]!.id;
    }
    after = undefined;
    for (;;) {
      const groups = await this.listGroups({ after, limit: 500 });
      if (groups.length === 0) break;
      for (const g of groups) await this.tuples(g.members.map((m) => memberTuple(g.id, m)), []);
      after = groups[groups.length - 1]!.id;
    }
  }

  // ---- helpers ----

  private async recordChange(type: string, activity: "create" | "update" | "delete", entity: { type: string; uid: string }, details?: Record<string, unknown>): Promise<void> {
    await this.opts.changes?.record({ type, activity, entity, details });
  }

  /**
   * The id of a new record: the given one (a conflict if taken), else the name when it is a valid
   * id and free, else a ULID. Checked before any unique name is claimed, so a refused create
   * never touches another record's index entries.
   */
  private async freeId(collection: string, given: string | undefined, name: string): Promise<string> {
    if (given !== undefined) {
      checkId(given, "id");
      if (await this.docs.getDocument(collection, given)) throw new TenetError("conflict", `${collection === USERS ? "a user" : "a group"} with id ${given} already exists`);
      return given;
    }
    const derived = name.toLowerCase();
    if (isId(derived) && !(await this.docs.getDocument(collection, derived))) return derived;
    return ulid().toLowerCase();
  }

  private async findVia(collection: string, key: string, matches: (u: User) => boolean): Promise<User | undefined> {
    const e = await this.docs.getDocument<IndexEntry>(collection, key);
    const u = e ? await this.getUser(e.body.id) : undefined;
    return u && matches(u) ? u : undefined;
  }

  /**
   * Takes the unique `key` for record `id`; an entry held by a record that no longer exists or no
   * longer has this key is stale and taken over.
   */
  private async claim<T>(collection: string, key: string, id: string, records: string, keyOf: (r: T) => string, what: string): Promise<boolean> {
    for (let attempt = 0; attempt < 3; attempt++) {
      const e = await this.docs.getDocument<IndexEntry>(collection, key);
      if (!e) {
        try {
          await this.docs.putDocument(collection, key, { id } satisfies IndexEntry, 0);
          return true;
        } catch (err) {
          if (err instanceof DocumentConflict) continue;
          throw err;
        }
      }
      // Already ours: nothing written, so nothing for a failed create to roll back.
      if (e.body.id === id) return false;
      const holder = await this.docs.getDocument<T>(records, e.body.id);
      if (holder && keyOf(holder.body) === key) throw new TenetError("conflict", `that ${what} is already taken`);
      try {
        await this.docs.putDocument(collection, key, { id } satisfies IndexEntry, e.version);
        return true;
      } catch (err) {
        if (!(err instanceof DocumentConflict)) throw err;
      }
    }
    throw new TenetError("conflict", `that ${what} is already taken`);
  }

  /** Read-modify-write of a user with retries on concurrent writes (unless a version was given). */
  private async mutateUser(
    id: string,
    expectedVersion: number | undefined,
    change: (u: UserBody) => Promise<{ next: UserBody; after: Array<[string, string]> }>,
  ): Promise<{ user: User; before: User }> {
    for (let attempt = 0; ; attempt++) {
      const r = await this.docs.getDocument<UserBody>(USERS, id);
      if (!r) throw new TenetError("not_found", `user ${id} does not exist`);
      if (expectedVersion !== undefined && r.version !== expectedVersion) throw new TenetError("conflict", `user ${id} is at version ${r.version}, not ${expectedVersion}`);
      const { next, after } = await change(r.body);
      try {
        await this.docs.putDocument(USERS, id, next, r.version);
      } catch (err) {
        if (err instanceof DocumentConflict && expectedVersion === undefined && attempt < 5) continue;
        if (err instanceof DocumentConflict) throw new TenetError("conflict", `user ${id} changed meanwhile; read it again`);
        throw err;
      }
      for (const [c, k] of after) await this.docs.deleteDocument(c, k).catch(() => undefined);
      return { user: (await this.getUser(id))!, before: userOf(r) };
    }
  }

  private async tuples(writes: Array<{ object: string; relation: string; user: string }>, deletes: Array<{ object: string; relation: string; user: string }>): Promise<void> {
    if (!this.opts.tuples || (writes.length === 0 && deletes.length === 0)) return;
    try {
      await this.opts.tuples.apply(writes, deletes);
    } catch (err) {
      this.opts.onProblem?.("directory tuples could not be written; `syncTuples` will retry", err);
    }
  }
}
