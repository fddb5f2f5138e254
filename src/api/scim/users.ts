/**
 * The /Users resource over Tenet's directory: list/query, read, create (POST), replace (PUT),
 * PATCH and delete. PUT and PATCH both end in `store`: PATCH applies its operations to the
 * current resource and stores the result, with "absent" meaning "removed"; a PUT's absent
 * attributes are "not asserted" and kept (RFC 7644 §3.5.1 allows either reading).
 *
 * Deprovisioning: `active: false` suspends the account (sessions end through the directory's
 * `user.suspended` event) and `active: true` reactivates it; DELETE deletes it.
 */
import type { Directory } from "../../identity/accounts/directory.js";
import type { User, UserPatch } from "../../identity/accounts/types.js";
import { isId } from "../../identity/accounts/validate.js";
import { TenetError } from "../../errors.js";
import { ulid } from "../../util/ulid.js";
import { ScimError, invalidValue, notFound } from "./errors.js";
import { checkIfMatch } from "./etag.js";
import { type Filter } from "./filter.js";
import { type ListQuery, listResponse, scan, window } from "./list.js";
import { type Json, type Links, type Projection, type UserFields, canonicalResource, project, returns, userFields, userResource } from "./mapping.js";
import { applyPatch, parsePatch } from "./patch.js";
import { USER } from "./schemas.js";

/** Why an account was suspended, as the directory records it. */
export const DEPROVISIONED = "deprovisioned by SCIM (active: false)";

/** The optional profile fields, named alike in UserFields and Tenet's User. */
const PROFILE = ["email", "displayName", "givenName", "familyName", "externalId"] as const;

/** Retries of a PATCH/PUT whose user another request changed meanwhile (without If-Match). */
const RETRIES = 3;

export class ScimUsers {
  constructor(private readonly dir: Directory) {}

  /** The full resource (with group names). */
  async resource(u: User, links: Links, p: Projection = {}): Promise<Json> {
    const groups: Array<{ id: string; name: string }> = [];
    if (returns(p, "groups")) {
      for (const id of u.groups) {
        const g = await this.dir.getGroup(id);
        if (g) groups.push({ id: g.id, name: g.name });
      }
    }
    return project(userResource(u, links, groups), p);
  }

  async list(q: ListQuery, links: Links): Promise<Json> {
    // Filters are evaluated on a resource without group names (no lookups per candidate), so
    // `groups.value` can be filtered on and `groups.display` cannot.
    const view = (u: User) => userResource(u, links, u.groups.map((id) => ({ id, name: "" })));
    const { total, items } = await window(await this.candidates(q.filter), view, q);
    const resources: Json[] = [];
    for (const u of items) resources.push(await this.resource(u, links, q.projection));
    return listResponse(resources, total, q.startIndex);
  }

  /** The users a filter can match: one index lookup when it has an indexed `eq`, else all. */
  private async candidates(filter: Filter | undefined): Promise<Iterable<User> | AsyncIterable<User>> {
    for (const c of filter ?? []) {
      if (c.attr.extension) continue;
      const name = c.attr.def.name;
      if (c.where.length === 0 && typeof c.value === "string") {
        if (name === "id") return present(await this.dir.getUser(c.value));
        if (name === "userName") return present(await this.dir.findByUsername(c.value));
        if (name === "externalId") return present(await this.dir.findByExternalId(c.value));
      }
      if (name === "emails") {
        const email = c.sub?.name === "value" && typeof c.value === "string" ? c.value : c.where.find((t) => t.sub.name === "value" && typeof t.value === "string")?.value;
        if (typeof email === "string") return present(await this.dir.findByEmail(email));
      }
    }
    return scan((o) => this.dir.listUsers(o));
  }

  async get(id: string): Promise<User> {
    const u = await this.dir.getUser(id);
    if (!u) throw notFound(`user ${id} not found`);
    return u;
  }

  async create(body: unknown): Promise<User> {
    const f = userFields(canonicalResource(USER, body));
    if (f.userName === undefined) throw invalidValue("userName is required");
    if (f.managerId !== undefined) await this.requireManager(f.managerId);
    // Checked here as well as by the directory: its createUser, refused because the id it derives
    // from the name is taken, rolls back name index entries that belong to that other user.
    if (await this.dir.findByUsername(f.userName)) throw new ScimError(409, "uniqueness", "that userName is already taken");
    const u = await this.dir.createUser({
      id: await unusedId(f.userName, async (id) => (await this.dir.getUser(id)) !== undefined),
      username: f.userName,
      email: f.email,
      displayName: f.displayName,
      givenName: f.givenName,
      familyName: f.familyName,
      externalId: f.externalId,
      managerId: f.managerId,
    });
    // Provisioned as already deprovisioned (Okta does this for deactivated users on import).
    return f.active === false ? this.dir.suspend(u.id, DEPROVISIONED) : u;
  }

  async replace(id: string, body: unknown, ifMatch: string | undefined): Promise<User> {
    const f = userFields(canonicalResource(USER, body));
    return this.change(id, ifMatch, () => f, "put");
  }

  async patch(id: string, body: unknown, ifMatch: string | undefined, links: Links): Promise<User> {
    const ops = parsePatch(body, USER);
    // Applied to the resource as stored now (read again on a retry).
    return this.change(id, ifMatch, (u) => userFields(applyPatch(userResource(u, links, []), ops, USER)), "patch");
  }

  async remove(id: string, ifMatch: string | undefined): Promise<void> {
    const u = await this.get(id);
    checkIfMatch(ifMatch, u.version);
    if (!(await this.dir.deleteUser(id))) throw notFound(`user ${id} not found`);
  }

  /**
   * Read, check If-Match, compute the wanted fields, store. A write that loses a race with
   * another one is retried on a fresh read, unless the client pinned the version (412).
   */
  private async change(id: string, ifMatch: string | undefined, want: (u: User) => UserFields, mode: "put" | "patch"): Promise<User> {
    for (let attempt = 0; ; attempt++) {
      const u = await this.get(id);
      checkIfMatch(ifMatch, u.version);
      try {
        await this.store(u, want(u), mode);
      } catch (err) {
        if (!(err instanceof TenetError && err.code === "conflict")) throw err;
        // A conflict is either a taken name (409) or a concurrent write (retry, or 412).
        const now = await this.dir.getUser(id);
        if (!now || now.version === u.version) throw err;
        checkIfMatch(ifMatch, now.version);
        if (attempt >= RETRIES) throw err;
        continue;
      }
      return this.get(id);
    }
  }

  private async store(u: User, f: UserFields, mode: "put" | "patch"): Promise<void> {
    if (f.userName === undefined) throw invalidValue("userName is required");
    const patch: UserPatch = {};
    if (f.userName !== u.username) patch.username = f.userName;
    for (const field of PROFILE) {
      const next = f[field];
      if (next !== undefined && next !== u[field]) patch[field] = next;
      else if (next === undefined && u[field] !== undefined && mode === "patch") throw cannotClear(field === "email" ? "emails" : field);
    }
    if (f.managerId !== u.managerId) {
      if (f.managerId !== undefined) {
        await this.requireManager(f.managerId);
        patch.managerId = f.managerId;
      } else if (mode === "patch") {
        // The directory clears the manager on null, but UserPatch's type intersects `managerId`
        // with NewUser's (string | undefined), which excludes null.
        (patch as { managerId?: string | null }).managerId = null;
      }
    }
    // The profile first, against the version read: a concurrent change makes it fail (conflict).
    if (Object.keys(patch).length > 0) await this.dir.updateUser(u.id, patch, u.version);
    if (f.active === false && u.status !== "suspended") await this.dir.suspend(u.id, DEPROVISIONED);
    else if (f.active === true && u.status === "suspended") await this.dir.reactivate(u.id);
  }

  /** A manager that does not exist is a bad value of this request, not a missing resource. */
  private async requireManager(id: string): Promise<void> {
    if (!(await this.dir.getUser(id))) throw invalidValue(`manager ${id} is not a user`);
  }
}

/**
 * The directory makes a user's id from its name when the name is a valid id (`user:alice` reads
 * well in policies). When that id is already used (the name belonged to a user since renamed, or
 * a different spelling), a fresh id is given instead; undefined lets the directory choose.
 */
export async function unusedId(name: string, exists: (id: string) => Promise<boolean>): Promise<string | undefined> {
  const derived = name.trim().toLowerCase();
  return isId(derived) && (await exists(derived)) ? ulid().toLowerCase() : undefined;
}

function present<T>(x: T | undefined): T[] {
  return x === undefined ? [] : [x];
}

/** The directory cannot unset these yet (UserPatch has no "clear"): refuse rather than ignore. */
function cannotClear(attribute: string): ScimError {
  return invalidValue(`Tenet cannot remove ${attribute} from a user; replace it with a new value instead`);
}
