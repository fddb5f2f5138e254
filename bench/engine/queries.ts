/**
 * Seeded query sets for each case, drawn from the generated data, each query with its expected
 * answer (recomputed from the layout, not asked of the engine).
 */
import {
  COND_DOCS,
  DIRECT_DOCS,
  DOCS_PER_CHAIN,
  DOCS_PER_LEAF,
  type Layout,
  N_CHAINS,
  N_ROLES,
  N_TREES,
  N_USERS,
  RBAC_DOCS,
  condGrant,
  inChain,
  leafMembers,
  midViewer,
  rolesOfDoc,
  rolesOfUser,
  rootViewers,
  treeViewer,
  user,
} from "./dataset.js";
import { Rng } from "./rng.js";

export interface Query {
  object: string;
  relation: string;
  user: string;
  expected: boolean;
  /** Numeric keys the peers need to build their own inputs. */
  doc: number;
  u: number;
}

/** Number of distinct queries per case (a power of two: the bench loop masks the index). */
export const QUERIES = 8192;

function mixed(rng: Rng, allowedShare: number, make: (allowed: boolean) => Query): Query[] {
  const out: Query[] = [];
  for (let q = 0; q < QUERIES; q++) out.push(make(rng.chance(allowedShare)));
  return out;
}

/** (a) doc:d{i}#viewer@user:u{..}: allowed = one of the doc's viewers, denied = a user that is not. */
export function directQueries(layout: Layout, seed: number): Query[] {
  const rng = new Rng(seed);
  return mixed(rng, 0.5, (allowed) => {
    const i = rng.int(DIRECT_DOCS);
    const n = layout.directCount(i);
    const k = allowed ? rng.int(n) : n + rng.int(1000);
    const u = layout.directViewer(i, k);
    return { object: `doc:d${i}`, relation: "viewer", user: user(u), expected: allowed, doc: i, u };
  });
}

/** Users assigned to each role (the inverse of rolesOfUser). */
export function roleMembers(): number[][] {
  const members: number[][] = Array.from({ length: N_ROLES }, () => []);
  for (let u = 0; u < N_USERS; u++) for (const r of rolesOfUser(u)) members[r]!.push(u);
  return members;
}

/** (b) doc:r{i}#viewer@user: allowed through one of the doc's roles, denied = a user with none of them. */
export function rbacQueries(seed: number, members: number[][], docLimit = RBAC_DOCS): Query[] {
  const rng = new Rng(seed);
  return mixed(rng, 0.5, (allowed) => {
    const i = rng.int(docLimit);
    const roles = rolesOfDoc(i);
    let u: number;
    if (allowed) {
      const m = members[roles[rng.int(roles.length)]!]!;
      u = m[rng.int(m.length)]!;
    } else {
      do u = rng.int(N_USERS);
      while (rolesOfUser(u).some((r) => roles.includes(r)));
    }
    return { object: `doc:r${i}`, relation: "viewer", user: user(u), expected: allowed, doc: i, u };
  });
}

/** (c) doc:g{c}_{j}#viewer@user: allowed = a member of the chain's leaf group (5 levels down), denied = a leaf member of another chain. */
export function groupQueries(seed: number): Query[] {
  const rng = new Rng(seed);
  return mixed(rng, 0.5, (allowed) => {
    const c = rng.int(N_CHAINS);
    let u: number;
    if (allowed) {
      const leaf = leafMembers(c);
      u = leaf[rng.int(leaf.length)]!;
    } else {
      do {
        const other = leafMembers(rng.int(N_CHAINS));
        u = other[rng.int(other.length)]!;
      } while (inChain(c, u));
    }
    const j = rng.int(DOCS_PER_CHAIN);
    return { object: `doc:g${c}_${j}`, relation: "viewer", user: user(u), expected: allowed, doc: c, u };
  });
}

/** (d) doc:f{t}_{j}#viewer@user: allowed = a viewer of the root folder (10 levels up), denied = a root viewer of another tree. */
export function folderQueries(seed: number): Query[] {
  const rng = new Rng(seed);
  return mixed(rng, 0.5, (allowed) => {
    const t = rng.int(N_TREES);
    let u: number;
    if (allowed) {
      const v = rootViewers(t);
      u = v[rng.int(v.length)]!;
    } else {
      do {
        const v = rootViewers(rng.int(N_TREES));
        u = v[rng.int(v.length)]!;
      } while (treeViewer(t, u));
    }
    const j = rng.int(DOCS_PER_LEAF);
    return { object: `doc:f${t}_${j}`, relation: "viewer", user: user(u), expected: allowed, doc: t, u };
  });
}

/** Every folder a user has a direct viewer grant on (what Cedar's principal carries). */
export function folderGrantsByUser(): Map<number, string[]> {
  const m = new Map<number, string[]>();
  const add = (u: number, f: string): void => {
    const l = m.get(u);
    if (l) l.push(f);
    else m.set(u, [f]);
  };
  for (let t = 0; t < N_TREES; t++) {
    for (const u of rootViewers(t)) add(u, `t${t}_1`);
    const mid = midViewer(t);
    add(mid.user, `t${t}_${mid.level}`);
  }
  return m;
}

/** (e) doc:c{i}#viewer@user (conditional tuple): allowed = grant not expired at NOW, denied = expired. */
export function condQueries(seed: number): Query[] {
  const rng = new Rng(seed);
  return mixed(rng, 0.5, (allowed) => {
    let i: number;
    let g;
    do {
      i = rng.int(COND_DOCS);
      g = condGrant(i);
    } while (g.valid !== allowed);
    return { object: `doc:c${i}`, relation: "viewer", user: user(g.user), expected: allowed, doc: i, u: g.user };
  });
}
