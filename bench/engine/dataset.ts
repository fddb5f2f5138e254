/**
 * The benchmark's data set: one authorization model covering every case and exactly 1,000,000
 * tuples in one store. Every tuple is a pure function of its indexes (see `mix`), so the ground
 * truth that query generation needs (who may view what) is recomputed, never stored: memory
 * measured around the load is the engine's alone.
 *
 * Layout (ids are short, like real OpenFGA ids):
 * - users       user:u0 .. user:u99999, plus user:lo0..lo3 (the ListObjects users)
 * - (a) direct  doc:d{i}   (150,000 docs)   doc:d{i}#viewer@user:u{..}, the remainder of the 1M
 * - (b) RBAC    role:r{j}  (2,000 roles)    role:r{j}#assignee@user:u{..} (every user 1 role,
 *               20% of users 2); doc:r{i} (100,000 docs) viewer@role:r{j}#assignee (1 or 2 roles)
 * - (c) groups  10,000 chains group:c{c}_1 .. _5, group:c{c}_{l}#member@group:c{c}_{l+1}#member,
 *               5 users in _5 and 1 user in each of _1.._4; doc:g{c}_{0,1}#viewer@group:c{c}_1#member
 * - (d) folders 5,000 chains folder:t{t}_1 (root) .. _10 (leaf), folder:t{t}_{l+1}#parent@folder:t{t}_{l};
 *               doc:f{t}_{0..9}#parent@folder:t{t}_10; 5 viewers on the root and 1 on a random level 2..10
 * - (e) cond    doc:c{i} (100,000 docs) viewer@user:u{..} with non_expired_grant{grant_time, grant_duration}
 * - (f) list    user:lo{n} reaches exactly 1,000 docs: 250 direct, 250 through role:lo{n}, 250 through
 *               125 group chains (membership of the leaf group) and 250 through 25 folder roots.
 */
import type { TupleKey } from "../../src/policy/tuples/tuple.js";
import { mix } from "./rng.js";

export const MODEL_DSL = `model
  schema 1.1

type user

type group
  relations
    define member: [user, group#member]

type role
  relations
    define assignee: [user, group#member]

type folder
  relations
    define parent: [folder]
    define viewer: [user, group#member, role#assignee] or viewer from parent

type doc
  relations
    define parent: [folder]
    define viewer: [user, user with non_expired_grant, group#member, role#assignee] or viewer from parent

condition non_expired_grant(current_time: timestamp, grant_time: timestamp, grant_duration: duration) {
  current_time < grant_time + grant_duration
}
`;

export const TOTAL_TUPLES = 1_000_000;
export const N_USERS = 100_000;
/** Prime, coprime with N_USERS: `(base + k * STRIDE) % N_USERS` gives distinct users for distinct k. */
export const STRIDE = 7919;

export const DIRECT_DOCS = 150_000;

export const N_ROLES = 2_000;
export const RBAC_DOCS = 100_000;
export const TWO_ROLE_USERS = 20_000;

export const N_CHAINS = 10_000;
export const GROUP_DEPTH = 5;
export const LEAF_MEMBERS = 5;
export const DOCS_PER_CHAIN = 2;

export const N_TREES = 5_000;
export const FOLDER_DEPTH = 10;
export const DOCS_PER_LEAF = 10;
export const ROOT_VIEWERS = 5;

export const COND_DOCS = 100_000;
/** The request's current_time for case (e). */
export const NOW = "2026-01-01T00:00:00Z";
const NOW_MS = Date.parse(NOW);
const GRANT_EPOCH_MS = Date.parse("2025-01-01T00:00:00Z");
const DAY_MS = 86_400_000;

export const LO_USERS = 4;
const LO_DIRECT = 250;
const LO_ROLE_DOCS = 250;
const LO_CHAINS = 125;
const LO_TREES = 25;
export const LO_REACHABLE = LO_DIRECT + LO_ROLE_DOCS + LO_CHAINS * DOCS_PER_CHAIN + LO_TREES * DOCS_PER_LEAF;

export const user = (u: number): string => `user:u${u}`;

/** The docs user:lo{n} may view: exactly LO_REACHABLE of them. */
export function listObjectsExpected(n: number): string[] {
  const out: string[] = [];
  for (let j = 0; j < LO_DIRECT; j++) out.push(`doc:d${n * LO_DIRECT + j}`);
  for (let j = 0; j < LO_ROLE_DOCS; j++) out.push(`doc:r${n * LO_ROLE_DOCS + j}`);
  for (let j = 0; j < LO_CHAINS; j++) for (let k = 0; k < DOCS_PER_CHAIN; k++) out.push(`doc:g${n * LO_CHAINS + j}_${k}`);
  for (let j = 0; j < LO_TREES; j++) for (let k = 0; k < DOCS_PER_LEAF; k++) out.push(`doc:f${n * LO_TREES + j}_${k}`);
  return out;
}

// --- (b) RBAC -------------------------------------------------------------------------------------

/** The roles user u is assigned (1, or 2 for the first TWO_ROLE_USERS users). */
export function rolesOfUser(u: number): number[] {
  const a = mix(u, 2) % N_ROLES;
  if (u >= TWO_ROLE_USERS) return [a];
  return [a, (a + 1 + (mix(u, 3) % (N_ROLES - 1))) % N_ROLES];
}

/** The roles granted viewer on doc:r{i} (1 or 2). */
export function rolesOfDoc(i: number): number[] {
  const a = mix(i, 4) % N_ROLES;
  if ((mix(i, 5) & 1) === 0) return [a];
  return [a, (a + 1 + (mix(i, 6) % (N_ROLES - 1))) % N_ROLES];
}

// --- (c) nested groups ----------------------------------------------------------------------------

export const group = (c: number, level: number): string => `group:c${c}_${level}`;

/** The users in the leaf group (level GROUP_DEPTH) of chain c. */
export function leafMembers(c: number): number[] {
  const base = mix(c, 7) % N_USERS;
  const out: number[] = [];
  for (let k = 0; k < LEAF_MEMBERS; k++) out.push((base + k * STRIDE) % N_USERS);
  return out;
}

/** The one direct user member of level `level` (1..GROUP_DEPTH-1) of chain c. */
export const levelMember = (c: number, level: number): number => mix(c, 8 + level) % N_USERS;

/** Does user u reach chain c's root group (is it a member at any level)? */
export function inChain(c: number, u: number): boolean {
  if (leafMembers(c).includes(u)) return true;
  for (let l = 1; l < GROUP_DEPTH; l++) if (levelMember(c, l) === u) return true;
  return false;
}

// --- (d) folders ----------------------------------------------------------------------------------

export const folder = (t: number, level: number): string => `folder:t${t}_${level}`;

export function rootViewers(t: number): number[] {
  const base = mix(t, 20) % N_USERS;
  const out: number[] = [];
  for (let k = 0; k < ROOT_VIEWERS; k++) out.push((base + k * STRIDE) % N_USERS);
  return out;
}

/** The one extra viewer of tree t, granted at level 2..FOLDER_DEPTH. */
export function midViewer(t: number): { user: number; level: number } {
  return { user: mix(t, 21) % N_USERS, level: 2 + (mix(t, 22) % (FOLDER_DEPTH - 1)) };
}

export function treeViewer(t: number, u: number): boolean {
  return rootViewers(t).includes(u) || midViewer(t).user === u;
}

// --- (e) conditional grants -----------------------------------------------------------------------

export interface CondGrant {
  user: number;
  grantTime: string;
  duration: string;
  /** Whether the grant is still valid at NOW. */
  valid: boolean;
}

export function condGrant(i: number): CondGrant {
  const ms = GRANT_EPOCH_MS + (mix(i, 31) % 365) * DAY_MS + (mix(i, 32) % 86_400) * 1000;
  const hours = i % 2 === 0 ? 8760 : 720;
  return {
    user: mix(i, 30) % N_USERS,
    grantTime: new Date(ms).toISOString().replace(".000Z", "Z"),
    duration: `${hours}h`,
    valid: NOW_MS < ms + hours * 3_600_000,
  };
}

// --- (a) direct -----------------------------------------------------------------------------------

/** Counts of every family except direct grants, which fill the store up to TOTAL_TUPLES. */
export function nonDirectCounts(): Record<string, number> {
  let rbacGrants = 0;
  for (let i = 0; i < RBAC_DOCS; i++) rbacGrants += rolesOfDoc(i).length;
  return {
    rbacAssignments: N_USERS + TWO_ROLE_USERS,
    rbacGrants,
    groups: N_CHAINS * ((GROUP_DEPTH - 1) * 2 + LEAF_MEMBERS + DOCS_PER_CHAIN),
    folders: N_TREES * (FOLDER_DEPTH - 1 + DOCS_PER_LEAF + ROOT_VIEWERS + 1),
    conditional: COND_DOCS,
    listObjects: LO_USERS * (LO_DIRECT + 1 + LO_ROLE_DOCS + LO_CHAINS + LO_TREES),
  };
}

export class Layout {
  readonly counts: Record<string, number>;
  readonly directTuples: number;

  constructor() {
    const other = nonDirectCounts();
    const sum = Object.values(other).reduce((a, b) => a + b, 0);
    this.directTuples = TOTAL_TUPLES - sum;
    if (this.directTuples < DIRECT_DOCS) throw new Error("layout leaves too few direct tuples");
    this.counts = { direct: this.directTuples, ...other };
  }

  /** How many direct viewers doc:d{i} has (tuple j goes to doc j % DIRECT_DOCS, as its k = j / DIRECT_DOCS-th viewer). */
  directCount(i: number): number {
    return Math.ceil((this.directTuples - i) / DIRECT_DOCS);
  }

  /** The k-th direct viewer of doc:d{i}; distinct for distinct k, so k >= directCount(i) is a non-viewer. */
  directViewer(i: number, k: number): number {
    return ((mix(i, 1) % N_USERS) + k * STRIDE) % N_USERS;
  }

  /** Emits every tuple, exactly TOTAL_TUPLES of them, none duplicated. */
  generate(emit: (t: TupleKey) => void): void {
    // (a) direct
    for (let j = 0; j < this.directTuples; j++) {
      const i = j % DIRECT_DOCS;
      emit({ object: `doc:d${i}`, relation: "viewer", user: user(this.directViewer(i, Math.floor(j / DIRECT_DOCS))) });
    }
    // (b) RBAC
    for (let u = 0; u < N_USERS; u++) {
      for (const r of rolesOfUser(u)) emit({ object: `role:r${r}`, relation: "assignee", user: user(u) });
    }
    for (let i = 0; i < RBAC_DOCS; i++) {
      for (const r of rolesOfDoc(i)) emit({ object: `doc:r${i}`, relation: "viewer", user: `role:r${r}#assignee` });
    }
    // (c) nested groups
    for (let c = 0; c < N_CHAINS; c++) {
      for (let l = 1; l < GROUP_DEPTH; l++) {
        emit({ object: group(c, l), relation: "member", user: `${group(c, l + 1)}#member` });
        emit({ object: group(c, l), relation: "member", user: user(levelMember(c, l)) });
      }
      for (const u of leafMembers(c)) emit({ object: group(c, GROUP_DEPTH), relation: "member", user: user(u) });
      for (let j = 0; j < DOCS_PER_CHAIN; j++) emit({ object: `doc:g${c}_${j}`, relation: "viewer", user: `${group(c, 1)}#member` });
    }
    // (d) folders
    for (let t = 0; t < N_TREES; t++) {
      for (let l = 1; l < FOLDER_DEPTH; l++) emit({ object: folder(t, l + 1), relation: "parent", user: folder(t, l) });
      for (let j = 0; j < DOCS_PER_LEAF; j++) emit({ object: `doc:f${t}_${j}`, relation: "parent", user: folder(t, FOLDER_DEPTH) });
      for (const u of rootViewers(t)) emit({ object: folder(t, 1), relation: "viewer", user: user(u) });
      const mid = midViewer(t);
      emit({ object: folder(t, mid.level), relation: "viewer", user: user(mid.user) });
    }
    // (e) conditional
    for (let i = 0; i < COND_DOCS; i++) {
      const g = condGrant(i);
      emit({
        object: `doc:c${i}`,
        relation: "viewer",
        user: user(g.user),
        condition: { name: "non_expired_grant", context: { grant_time: g.grantTime, grant_duration: g.duration } },
      });
    }
    // (f) the ListObjects users
    for (let n = 0; n < LO_USERS; n++) {
      const lo = `user:lo${n}`;
      for (let j = 0; j < LO_DIRECT; j++) emit({ object: `doc:d${n * LO_DIRECT + j}`, relation: "viewer", user: lo });
      emit({ object: `role:lo${n}`, relation: "assignee", user: lo });
      for (let j = 0; j < LO_ROLE_DOCS; j++) emit({ object: `doc:r${n * LO_ROLE_DOCS + j}`, relation: "viewer", user: `role:lo${n}#assignee` });
      for (let j = 0; j < LO_CHAINS; j++) emit({ object: group(n * LO_CHAINS + j, GROUP_DEPTH), relation: "member", user: lo });
      for (let j = 0; j < LO_TREES; j++) emit({ object: folder(n * LO_TREES + j, 1), relation: "viewer", user: lo });
    }
  }
}
