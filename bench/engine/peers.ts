/**
 * The peers, answering the same questions as Tenet on the same generated data:
 * - cedar-wasm (RBAC and the folder hierarchy), with the per-request entities a deployment would
 *   pass: the principal and the resource with their ancestry;
 * - casbin (RBAC), with an in-memory policy of a bounded size (its enforce is linear in the number
 *   of `p` rules).
 */
import { getCedarVersion, preparsePolicySet, statefulIsAuthorized, type EntityJson, type StatefulAuthorizationCall } from "@cedar-policy/cedar-wasm/nodejs";
import { newEnforcer, newModelFromString, type Enforcer } from "casbin";
import { FOLDER_DEPTH, N_USERS, rolesOfDoc, rolesOfUser } from "./dataset.js";
import type { Query } from "./queries.js";

// --- cedar ----------------------------------------------------------------------------------------

export const CEDAR_POLICIES = `// (b) RBAC: the doc lists the roles that may view it; the user's roles are its parents.
permit (principal, action == Action::"view", resource)
when { resource has viewerRoles && principal in resource.viewerRoles };

// (d) hierarchy: the user carries the folders shared with it; the doc's ancestry is its folder chain.
permit (principal, action == Action::"view", resource)
when { principal has viewableFolders && resource in principal.viewableFolders };
`;

const CEDAR_PSET = "tenet-bench";
const VIEW = { type: "Action", id: "view" };

export function cedarVersion(): string {
  return getCedarVersion();
}

export function cedarSetup(): void {
  const r = preparsePolicySet(CEDAR_PSET, { staticPolicies: CEDAR_POLICIES });
  if (r.type !== "success") throw new Error(`cedar: cannot parse the policies: ${JSON.stringify(r.errors)}`);
}

const ref = (type: string, id: string): { __entity: { type: string; id: string } } => ({ __entity: { type, id } });

/** (b): User (parents = its roles), its Role entities, and the Doc (attribute viewerRoles). */
export function cedarRbacCalls(queries: Query[]): StatefulAuthorizationCall[] {
  return queries.map((q) => {
    const roles = rolesOfUser(q.u);
    const entities: EntityJson[] = [
      { uid: { type: "User", id: `u${q.u}` }, attrs: {}, parents: roles.map((r) => ({ type: "Role", id: `r${r}` })) },
      ...roles.map((r): EntityJson => ({ uid: { type: "Role", id: `r${r}` }, attrs: {}, parents: [] })),
      { uid: { type: "Doc", id: `r${q.doc}` }, attrs: { viewerRoles: rolesOfDoc(q.doc).map((r) => ref("Role", `r${r}`)) }, parents: [] },
    ];
    return call(`u${q.u}`, `r${q.doc}`, entities);
  });
}

/** (d): User (attribute viewableFolders = its direct folder grants), the Doc (parent = leaf folder) and the 10 folders up to the root. */
export function cedarFolderCalls(queries: Query[], grants: Map<number, string[]>): StatefulAuthorizationCall[] {
  return queries.map((q) => {
    const t = q.doc;
    const docId = q.object.slice("doc:".length);
    const entities: EntityJson[] = [
      { uid: { type: "User", id: `u${q.u}` }, attrs: { viewableFolders: (grants.get(q.u) ?? []).map((f) => ref("Folder", f)) }, parents: [] },
      { uid: { type: "Doc", id: docId }, attrs: {}, parents: [{ type: "Folder", id: `t${t}_${FOLDER_DEPTH}` }] },
    ];
    for (let l = FOLDER_DEPTH; l >= 1; l--) {
      entities.push({ uid: { type: "Folder", id: `t${t}_${l}` }, attrs: {}, parents: l > 1 ? [{ type: "Folder", id: `t${t}_${l - 1}` }] : [] });
    }
    return call(`u${q.u}`, docId, entities);
  });
}

function call(principal: string, resource: string, entities: EntityJson[]): StatefulAuthorizationCall {
  return {
    principal: { type: "User", id: principal },
    action: VIEW,
    resource: { type: "Doc", id: resource },
    context: {},
    preparsedPolicySetId: CEDAR_PSET,
    entities,
  };
}

export function cedarAllowed(c: StatefulAuthorizationCall): boolean {
  const r = statefulIsAuthorized(c);
  if (r.type !== "success") throw new Error(`cedar: ${JSON.stringify(r.errors)}`);
  return r.response.decision === "allow";
}

// --- casbin ---------------------------------------------------------------------------------------

export const CASBIN_MODEL = `[request_definition]
r = sub, obj, act

[policy_definition]
p = sub, obj, act

[role_definition]
g = _, _

[policy_effect]
e = some(where (p.eft == allow))

[matchers]
m = r.obj == p.obj && r.act == p.act && g(r.sub, p.sub)
`;

export interface CasbinSetup {
  enforcer: Enforcer;
  policies: number;
  groupings: number;
  loadMs: number;
}

/** RBAC for doc:r0 .. doc:r{docs-1}: one `p` rule per (role, doc) grant, every user→role assignment as `g`. */
export async function casbinSetup(docs: number): Promise<CasbinSetup> {
  const t0 = performance.now();
  const enforcer = await newEnforcer(newModelFromString(CASBIN_MODEL));
  const p: string[][] = [];
  for (let i = 0; i < docs; i++) for (const r of rolesOfDoc(i)) p.push([`role:r${r}`, `doc:r${i}`, "viewer"]);
  const g: string[][] = [];
  for (let u = 0; u < N_USERS; u++) for (const r of rolesOfUser(u)) g.push([`user:u${u}`, `role:r${r}`]);
  await enforcer.addPolicies(p);
  await enforcer.addGroupingPolicies(g);
  return { enforcer, policies: p.length, groupings: g.length, loadMs: performance.now() - t0 };
}
