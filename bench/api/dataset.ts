/**
 * The API benchmark's store: a document-sharing model (teams nested in teams, organisations,
 * folder trees with inherited editors and viewers, documents with owners, editors, viewers and
 * public links) with about 10,000 tuples, and a pool of distinct check questions over it
 * (direct viewers, owners, team members and random users, so both allowed and denied answers,
 * the latter walking the whole graph). Deterministic: everything derives from one seed.
 */
import type { TupleKey } from "../../src/policy/tuples/tuple.js";
import { Rng } from "../engine/rng.js";

export const MODEL_DSL = `model
  schema 1.1

type user

type team
  relations
    define member: [user, team#member]

type organization
  relations
    define admin: [user]
    define member: [user, team#member] or admin

type folder
  relations
    define organization: [organization]
    define parent: [folder]
    define owner: [user]
    define editor: [user, team#member] or owner or editor from parent
    define viewer: [user, team#member] or editor or viewer from parent or member from organization

type document
  relations
    define parent: [folder]
    define owner: [user]
    define editor: [user, team#member] or owner or editor from parent
    define viewer: [user, user:*, team#member] or editor or viewer from parent
    define can_share: owner or editor from parent
`;

export const USERS = 2000;
export const TEAMS = 60;
const TEAM_SIZE = 6;
/** Teams form chains of this length: team t includes team t+1's members. */
const TEAM_CHAIN = 4;
export const ORGS = 3;
export const TREES = 60;
const TREE_DEPTH = 4;
export const DOCS = 2500;

export interface Query {
  object: string;
  relation: string;
  user: string;
}

export interface Dataset {
  tuples: TupleKey[];
  queries: Query[];
}

const u = (n: number): string => `user:u${n}`;
const team = (t: number): string => `team:t${t}`;
const folder = (tree: number, level: number): string => `folder:f${tree}_${level}`;
const doc = (d: number): string => `document:d${d}`;

/** The model's tuples (about 10k) and `queryCount` distinct check questions. */
export function makeDataset(seed: number, queryCount: number): Dataset {
  const rng = new Rng(seed);
  const tuples: TupleKey[] = [];
  const keys = new Set<string>();
  const add = (object: string, relation: string, user: string): void => {
    const key = `${object}#${relation}@${user}`;
    if (keys.has(key)) return;
    keys.add(key);
    tuples.push({ object, relation, user });
  };
  const teamMembers: number[][] = [];
  for (let t = 0; t < TEAMS; t++) {
    const members = new Set<number>();
    while (members.size < TEAM_SIZE) members.add(rng.int(USERS));
    teamMembers.push([...members]);
    for (const m of members) add(team(t), "member", u(m));
    if (t % TEAM_CHAIN !== TEAM_CHAIN - 1 && t + 1 < TEAMS) add(team(t), "member", `${team(t + 1)}#member`);
  }
  for (let o = 0; o < ORGS; o++) {
    add(`organization:o${o}`, "admin", u(rng.int(USERS)));
    add(`organization:o${o}`, "admin", u(rng.int(USERS)));
    // A third of the teams belong to each organisation.
    for (let t = o; t < TEAMS; t += ORGS * 4) add(`organization:o${o}`, "member", `${team(t)}#member`);
  }
  for (let tree = 0; tree < TREES; tree++) {
    add(folder(tree, 1), "organization", `organization:o${tree % ORGS}`);
    add(folder(tree, 1), "editor", `${team(rng.int(TEAMS))}#member`);
    for (let l = 1; l <= TREE_DEPTH; l++) {
      if (l > 1) add(folder(tree, l), "parent", folder(tree, l - 1));
      add(folder(tree, l), "owner", u(rng.int(USERS)));
      add(folder(tree, l), "viewer", u(rng.int(USERS)));
    }
  }
  const docOwner: number[] = [];
  const docViewer: number[] = [];
  for (let d = 0; d < DOCS; d++) {
    const tree = rng.int(TREES);
    add(doc(d), "parent", folder(tree, 1 + rng.int(TREE_DEPTH)));
    docOwner.push(rng.int(USERS));
    add(doc(d), "owner", u(docOwner[d]!));
    docViewer.push(rng.int(USERS));
    add(doc(d), "viewer", u(docViewer[d]!));
    if (rng.chance(0.5)) add(doc(d), "viewer", u(rng.int(USERS)));
    if (rng.chance(0.2)) add(doc(d), "editor", `${team(rng.int(TEAMS))}#member`);
    if (rng.chance(0.1)) add(doc(d), "viewer", `${team(rng.int(TEAMS))}#member`);
    if (rng.chance(0.02)) add(doc(d), "viewer", "user:*");
  }

  const queries: Query[] = [];
  const seen = new Set<string>();
  while (queries.length < queryCount) {
    const d = rng.int(DOCS);
    const r = rng.u32() % 10;
    const relation = r < 7 ? "viewer" : r < 9 ? "editor" : "can_share";
    const kind = rng.u32() % 20;
    let user: number;
    if (kind < 5) user = docViewer[d]!;
    else if (kind < 8) user = docOwner[d]!;
    else if (kind < 12) {
      const m = teamMembers[rng.int(TEAMS)]!;
      user = m[rng.int(m.length)]!;
    } else user = rng.int(USERS);
    const q = { object: doc(d), relation, user: u(user) };
    const key = `${q.object}#${q.relation}@${q.user}`;
    if (seen.has(key)) continue;
    seen.add(key);
    queries.push(q);
  }
  return { tuples, queries };
}
