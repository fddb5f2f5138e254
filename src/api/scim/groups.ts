/**
 * The /Groups resource over Tenet's directory. Members are users (Tenet has no nested groups);
 * membership changes reach users' `groups` and the `group:<id>#member@user:<id>` tuples through
 * the directory. As for users, PUT's absent attributes are kept and PATCH's are removed, except
 * `members`: a PUT without it leaves the members as they are, a PUT with `[]` empties the group.
 */
import type { Directory } from "../../identity/accounts/directory.js";
import type { Group } from "../../identity/accounts/types.js";
import { ScimError, invalidValue, notFound } from "./errors.js";
import { checkIfMatch } from "./etag.js";
import { type Filter } from "./filter.js";
import { type ListQuery, listResponse, scan, window } from "./list.js";
import { type GroupFields, type Json, type Links, type Projection, canonicalResource, groupFields, groupResource, project, returns } from "./mapping.js";
import { applyPatch, parsePatch } from "./patch.js";
import { GROUP } from "./schemas.js";
import { unusedId } from "./users.js";

export class ScimGroups {
  constructor(private readonly dir: Directory) {}

  /** The full resource (members with their display names, unless excluded). */
  async resource(g: Group, links: Links, p: Projection = {}): Promise<Json> {
    let members: Array<{ id: string; display?: string | undefined }> | undefined;
    if (returns(p, "members")) {
      members = [];
      for (const id of g.members) {
        const u = await this.dir.getUser(id);
        members.push({ id, display: u ? (u.displayName ?? u.username) : undefined });
      }
    }
    return project(groupResource(g, links, members), p);
  }

  async list(q: ListQuery, links: Links): Promise<Json> {
    const view = (g: Group) => groupResource(g, links, g.members.map((id) => ({ id })));
    const { total, items } = await window(await this.candidates(q.filter), view, q);
    const resources: Json[] = [];
    for (const g of items) resources.push(await this.resource(g, links, q.projection));
    return listResponse(resources, total, q.startIndex);
  }

  private async candidates(filter: Filter | undefined): Promise<Iterable<Group> | AsyncIterable<Group>> {
    for (const c of filter ?? []) {
      const name = c.attr.def.name;
      if (c.where.length === 0 && typeof c.value === "string") {
        if (name === "id") return present(await this.dir.getGroup(c.value));
        if (name === "displayName") return present(await this.dir.findGroupByName(c.value));
        if (name === "externalId") return present(await this.dir.findGroupByExternalId(c.value));
      }
      if (name === "members") {
        // `members[value eq "u"]` (Entra ID asks whether a user is a member): the user's groups.
        const member = c.sub?.name === "value" && typeof c.value === "string" ? c.value : c.where.find((t) => t.sub.name === "value" && typeof t.value === "string")?.value;
        if (typeof member === "string") {
          const u = await this.dir.getUser(member);
          const groups: Group[] = [];
          for (const id of [...(u?.groups ?? [])].sort()) {
            const g = await this.dir.getGroup(id);
            if (g) groups.push(g);
          }
          return groups;
        }
      }
    }
    return scan((o) => this.dir.listGroups(o));
  }

  async get(id: string): Promise<Group> {
    const g = await this.dir.getGroup(id);
    if (!g) throw notFound(`group ${id} not found`);
    return g;
  }

  async create(body: unknown): Promise<Group> {
    const f = groupFields(canonicalResource(GROUP, body));
    if (f.displayName === undefined) throw invalidValue("displayName is required");
    const members = [...new Set(f.members ?? [])];
    await this.requireUsers(members);
    // As for users (users.ts): checked before the directory's createGroup, whose rollback of a
    // refused creation can remove index entries of another group.
    if (await this.dir.findGroupByName(f.displayName)) throw new ScimError(409, "uniqueness", "that displayName is already taken");
    if (f.externalId !== undefined && (await this.dir.findGroupByExternalId(f.externalId))) throw new ScimError(409, "uniqueness", "that externalId is already taken");
    const id = await unusedId(f.displayName, async (x) => (await this.dir.getGroup(x)) !== undefined);
    return this.dir.createGroup({ id, name: f.displayName, externalId: f.externalId, members });
  }

  async replace(id: string, body: unknown, ifMatch: string | undefined): Promise<Group> {
    const f = groupFields(canonicalResource(GROUP, body));
    const g = await this.get(id);
    checkIfMatch(ifMatch, g.version);
    await this.store(g, f, "put");
    return this.get(id);
  }

  async patch(id: string, body: unknown, ifMatch: string | undefined, links: Links): Promise<Group> {
    const ops = parsePatch(body, GROUP);
    const g = await this.get(id);
    checkIfMatch(ifMatch, g.version);
    const f = groupFields(applyPatch(groupResource(g, links, g.members.map((m) => ({ id: m }))), ops, GROUP));
    await this.store(g, f, "patch");
    return this.get(id);
  }

  async remove(id: string, ifMatch: string | undefined): Promise<void> {
    const g = await this.get(id);
    checkIfMatch(ifMatch, g.version);
    if (!(await this.dir.deleteGroup(id))) throw notFound(`group ${id} not found`);
  }

  private async store(g: Group, f: GroupFields, mode: "put" | "patch"): Promise<void> {
    if (f.displayName === undefined) throw invalidValue("displayName is required");
    if (f.externalId === undefined && g.externalId !== undefined && mode === "patch") {
      throw invalidValue("Tenet cannot remove externalId from a group; replace it with a new value instead");
    }
    const externalId = f.externalId !== undefined && f.externalId !== g.externalId ? f.externalId : undefined;
    if (f.displayName !== g.name || externalId !== undefined) await this.dir.renameGroup(g.id, f.displayName, externalId);
    if (mode === "put") {
      if (f.members === undefined) return;
      const want = [...new Set(f.members)];
      const before = new Set(g.members);
      if (want.length === before.size && want.every((m) => before.has(m))) return;
      await this.requireUsers(want.filter((m) => !before.has(m)));
      await this.dir.setMembers(g.id, want);
      return;
    }
    // PATCH: apply the difference the operations made to the members as they are now (read
    // again just before the write), so that members another request added meanwhile are kept.
    const before = new Set(g.members);
    const after = new Set(f.members ?? []);
    const added = [...after].filter((m) => !before.has(m));
    const removed = new Set(g.members.filter((m) => !after.has(m)));
    if (added.length === 0 && removed.size === 0) return;
    await this.requireUsers(added);
    const fresh = await this.get(g.id);
    const want = new Set(fresh.members.filter((m) => !removed.has(m)));
    for (const m of added) want.add(m);
    await this.dir.setMembers(g.id, [...want]);
  }

  /** Members must be users of this directory: anything else is a bad value (400), not a 404. */
  private async requireUsers(ids: readonly string[]): Promise<void> {
    for (const id of ids) {
      if (!(await this.dir.getUser(id))) throw invalidValue(`member ${id} is not a user`);
    }
  }
}

function present<T>(x: T | undefined): T[] {
  return x === undefined ? [] : [x];
}
