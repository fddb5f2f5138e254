/**
 * The identity admin API: users, groups, invitations, OAuth clients, sessions, passkeys, signing
 * keys, lockout and risk signals. Thin handlers over the identity plane; every route needs the
 * `admin` scope (these are the keys to every account).
 */
import { TenetError } from "../../errors.js";
import type { Lockout } from "../../identity/abuse/lockout.js";
import type { User } from "../../identity/accounts/types.js";
import type { RecoveryCodes } from "../../identity/factors/recovery-codes.js";
import type { TotpFactors } from "../../identity/factors/totp.js";
import type { IdentityPlane } from "../../identity/idp.js";
import { clientInput } from "../../identity/oidc/clients.js";
import type { SignInGuard } from "../signin/guard.js";
import type { Router } from "../route.js";
import * as s from "./schemas.js";

export interface IdentityRoutesOptions {
  idp: IdentityPlane;
  lockout: Lockout;
  totp: TotpFactors;
  recovery: RecoveryCodes;
  guard: SignInGuard;
}

export function userView(u: User) {
  return {
    id: u.id,
    username: u.username,
    email: u.email,
    email_verified: u.emailVerified,
    display_name: u.displayName,
    given_name: u.givenName,
    family_name: u.familyName,
    status: u.status,
    suspended_reason: u.suspendedReason,
    groups: u.groups,
    manager_id: u.managerId,
    external_id: u.externalId,
    created_at: u.createdAt,
    updated_at: u.updatedAt,
    version: u.version,
  };
}

const USERS = ["Identity: users"];
const GROUPS = ["Identity: groups"];
const CLIENTS = ["Identity: clients"];
const SESSIONS = ["Identity: sessions"];
const KEYS = ["Identity: keys"];

export function registerIdentityRoutes(r: Router, o: IdentityRoutesOptions): void {
  const { idp } = o;
  const dir = idp.directory;

  // ---- users ----
  r.add({
    method: "POST", url: "/identity/users", summary: "Create a user (invited until they register a passkey)", tags: USERS, scope: "admin", body: s.userBody,
    handler: async ({ body, reply }) => {
      const u = await dir.createUser({ id: body.id, username: body.username, email: body.email, emailVerified: body.email_verified, displayName: body.display_name, givenName: body.given_name, familyName: body.family_name, managerId: body.manager_id, externalId: body.external_id, status: body.status });
      reply.code(201);
      return userView(u);
    },
  });
  r.add({
    method: "GET", url: "/identity/users", summary: "List users (in id order)", tags: USERS, scope: "admin", query: s.pageQuery,
    handler: async ({ query }) => {
      const users = await dir.listUsers({ after: query.after, limit: query.page_size ?? 100 });
      return { users: users.map(userView), next: users.length === (query.page_size ?? 100) ? users[users.length - 1]!.id : undefined };
    },
  });
  r.add({
    method: "GET", url: "/identity/users/:id", summary: "Get a user", tags: USERS, scope: "admin", params: s.idParams,
    handler: async ({ params }) => {
      const u = await dir.requireUser(params.id);
      const lock = await o.lockout.check(u.id);
      return { ...userView(u), locked_until: lock.locked ? lock.until?.toISOString() : undefined, passkeys: (await idp.passkeys.list(u.id)).length, totp: await o.totp.isEnrolled(u.id), recovery_codes_left: await o.recovery.remaining(u.id) };
    },
  });
  r.add({
    method: "PUT", url: "/identity/users/:id", summary: "Change a user's profile (pass `version` to refuse a stale update)", tags: USERS, scope: "admin", params: s.idParams, body: s.userPatch,
    handler: async ({ params, body }) =>
      userView(await dir.updateUser(params.id, { username: body.username, email: body.email, emailVerified: body.email_verified, displayName: body.display_name, givenName: body.given_name, familyName: body.family_name, managerId: body.manager_id, externalId: body.external_id }, body.version)),
  });
  r.add({
    method: "DELETE", url: "/identity/users/:id", summary: "Delete a user (sessions end, factors are removed)", tags: USERS, scope: "admin", params: s.idParams,
    handler: async ({ params, reply }) => {
      if (!(await dir.deleteUser(params.id))) throw new TenetError("not_found", `user ${params.id} does not exist`);
      reply.code(204);
      return undefined;
    },
  });
  r.add({
    method: "POST", url: "/identity/users/:id/suspend", summary: "Suspend a user: sign-in refused, live sessions revoked within seconds", tags: USERS, scope: "admin", params: s.idParams, body: s.reasonBody,
    handler: async ({ params, body }) => userView(await dir.suspend(params.id, body.reason)),
  });
  r.add({
    method: "POST", url: "/identity/users/:id/reactivate", summary: "Reactivate a suspended user", tags: USERS, scope: "admin", params: s.idParams,
    handler: async ({ params }) => userView(await dir.reactivate(params.id)),
  });
  r.add({
    method: "POST", url: "/identity/users/:id/unlock", summary: "Lift a lockout after failed sign-ins", tags: USERS, scope: "admin", params: s.idParams, body: s.reasonBody,
    handler: async ({ params, body, req }) => {
      await dir.requireUser(params.id);
      return { unlocked: await o.lockout.unlock(params.id, { by: req.principal ? `${req.principal.kind}:${req.principal.id}` : "admin", reason: body.reason }) };
    },
  });
  r.add({
    method: "POST", url: "/identity/users/:id/invitations", summary: "Make a one-time link to register a passkey (new users, or a user who lost every passkey)", tags: USERS, scope: "admin", params: s.idParams, body: s.inviteBody,
    handler: async ({ params, body, req, reply }) => {
      const u = await dir.requireUser(params.id);
      if (u.status === "suspended") throw new TenetError("validation_error", "reactivate the user first");
      const inv = await idp.invitations.create(u.id, req.principal ? `${req.principal.kind}:${req.principal.id}` : "admin", Math.round((body.ttl_hours ?? 168) * 3600_000));
      reply.code(201);
      return { url: `${idp.publicUrl}/invite/${inv.token}`, expires_at: inv.expiresAt };
    },
  });
  r.add({
    method: "POST", url: "/identity/users/:id/risk", summary: "Report a change of the user's risk level (revokes or downgrades sessions; a CAEP risk-level-change goes to receivers)", tags: USERS, scope: "admin", params: s.idParams, body: s.riskBody,
    handler: async ({ params, body }) => {
      await dir.requireUser(params.id);
      await idp.events.emit({ type: "risk.changed", userId: params.id, previous: body.previous ?? "low", current: body.level });
      return { sessions: (await idp.sessions.list(params.id)).map((x) => ({ uid: x.uid, acr: x.acr })) };
    },
  });
  r.add({
    method: "GET", url: "/identity/users/:id/passkeys", summary: "A user's passkeys", tags: USERS, scope: "admin", params: s.idParams,
    handler: async ({ params }) => ({ passkeys: (await idp.passkeys.list(params.id)).map(({ publicKey: _pk, ...p }) => p) }),
  });
  r.add({
    method: "DELETE", url: "/identity/users/:id/passkeys/:credential_id", summary: "Remove a passkey (sessions signed in with it end)", tags: USERS, scope: "admin", params: s.passkeyParams,
    handler: async ({ params, reply }) => {
      if (!(await idp.passkeys.remove(params.id, params.credential_id))) throw new TenetError("not_found", "no such passkey");
      reply.code(204);
      return undefined;
    },
  });
  r.add({
    method: "POST", url: "/identity/users/:id/recovery-codes", summary: "Make a new set of 10 recovery codes (shown once; the old set stops working)", tags: USERS, scope: "admin", params: s.idParams,
    handler: async ({ params, reply }) => {
      await dir.requireUser(params.id);
      const codes = await o.recovery.generate(params.id);
      reply.code(201);
      return { codes };
    },
  });

  r.add({
    method: "DELETE", url: "/identity/users/:id/totp", summary: "Remove a user's authenticator app (sessions that relied on it end)", tags: USERS, scope: "admin", params: s.idParams,
    handler: async ({ params, reply }) => {
      await dir.requireUser(params.id);
      if (!(await o.totp.remove(params.id))) throw new TenetError("not_found", "no authenticator app is set up for this user");
      reply.code(204);
      return undefined;
    },
  });

  // ---- groups ----
  r.add({
    method: "POST", url: "/identity/groups", summary: "Create a group", tags: GROUPS, scope: "admin", body: s.groupBody,
    handler: async ({ body, reply }) => {
      reply.code(201);
      return dir.createGroup({ id: body.id, name: body.name, members: body.members, externalId: body.external_id });
    },
  });
  r.add({
    method: "GET", url: "/identity/groups", summary: "List groups", tags: GROUPS, scope: "admin", query: s.pageQuery,
    handler: async ({ query }) => ({ groups: await dir.listGroups({ after: query.after, limit: query.page_size }) }),
  });
  r.add({
    method: "GET", url: "/identity/groups/:id", summary: "Get a group", tags: GROUPS, scope: "admin", params: s.idParams,
    handler: async ({ params }) => dir.requireGroup(params.id),
  });
  r.add({
    method: "PUT", url: "/identity/groups/:id/members", summary: "Replace a group's members", tags: GROUPS, scope: "admin", params: s.idParams, body: s.membersBody,
    handler: async ({ params, body }) => dir.setMembers(params.id, body.members),
  });
  r.add({
    method: "DELETE", url: "/identity/groups/:id", summary: "Delete a group", tags: GROUPS, scope: "admin", params: s.idParams,
    handler: async ({ params, reply }) => {
      if (!(await dir.deleteGroup(params.id))) throw new TenetError("not_found", `group ${params.id} does not exist`);
      reply.code(204);
      return undefined;
    },
  });

  // ---- clients ----
  r.add({
    method: "POST", url: "/identity/clients", summary: "Register an OAuth/OIDC client (the secret is shown once)", tags: CLIENTS, scope: "admin", body: clientInput,
    handler: async ({ body, reply }) => {
      reply.code(201);
      const { client, client_secret } = await idp.clients.create(body);
      return { ...client, client_secret };
    },
  });
  r.add({
    method: "GET", url: "/identity/clients", summary: "List clients", tags: CLIENTS, scope: "admin", query: s.pageQuery,
    handler: async ({ query }) => ({ clients: await idp.clients.list({ after: query.after, limit: query.page_size }) }),
  });
  r.add({
    method: "GET", url: "/identity/clients/:id", summary: "Get a client", tags: CLIENTS, scope: "admin", params: s.idParams,
    handler: async ({ params }) => {
      const c = await idp.clients.get(params.id);
      if (!c) throw new TenetError("not_found", `client ${params.id} does not exist`);
      return c;
    },
  });
  r.add({
    method: "PUT", url: "/identity/clients/:id", summary: "Replace a client's metadata (its secret stays)", tags: CLIENTS, scope: "admin", params: s.idParams, body: clientInput,
    handler: async ({ params, body }) => idp.clients.update(params.id, body),
  });
  r.add({
    method: "POST", url: "/identity/clients/:id/secret", summary: "Rotate a client's secret (the old one stops working at once)", tags: CLIENTS, scope: "admin", params: s.idParams,
    handler: async ({ params }) => ({ client_id: params.id, client_secret: await idp.clients.rotateSecret(params.id) }),
  });
  r.add({
    method: "DELETE", url: "/identity/clients/:id", summary: "Delete a client", tags: CLIENTS, scope: "admin", params: s.idParams,
    handler: async ({ params, reply }) => {
      if (!(await idp.clients.delete(params.id))) throw new TenetError("not_found", `client ${params.id} does not exist`);
      reply.code(204);
      return undefined;
    },
  });

  // ---- sessions ----
  r.add({
    method: "GET", url: "/identity/sessions", summary: "Live sessions (of one user with user_id)", tags: SESSIONS, scope: "admin", query: s.sessionsQuery,
    handler: async ({ query }) => ({ sessions: query.user_id ? await idp.sessions.list(query.user_id) : await idp.sessions.listAll({ after: query.after, limit: query.page_size }) }),
  });
  r.add({
    method: "DELETE", url: "/identity/sessions/:uid", summary: "Revoke a session: its tokens stop working, relying parties are told (back-channel logout, CAEP)", tags: SESSIONS, scope: "admin", params: s.uidParams,
    handler: async ({ params, reply }) => {
      if (!(await idp.sessions.revoke(params.uid, "revoked by an administrator", { initiator: "admin" }))) throw new TenetError("not_found", "no such session");
      reply.code(204);
      return undefined;
    },
  });
  r.add({
    method: "POST", url: "/identity/users/:id/sessions/revoke", summary: "Revoke every session of a user", tags: SESSIONS, scope: "admin", params: s.idParams,
    handler: async ({ params }) => ({ revoked: await idp.sessions.revokeAll(params.id, "revoked by an administrator", "admin") }),
  });

  // ---- signing keys ----
  r.add({
    method: "GET", url: "/identity/keys", summary: "Signing keys (public facts only)", tags: KEYS, scope: "admin",
    handler: async () => ({ keys: await idp.keys.list() }),
  });
  r.add({
    method: "POST", url: "/identity/keys/rotate", summary: "Rotate signing keys: next becomes current, current is retired (still published)", tags: KEYS, scope: "admin",
    handler: async () => ({ keys: await idp.rotateKeys() }),
  });
}
