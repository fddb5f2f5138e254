/**
 * The policy benchmark's relationship data and request signals, a pure function of the seed.
 *
 * Relationships (about 50,000 tuples, model `MODEL_DSL`):
 * - users      user:u0 .. user:u{USERS-1}
 * - groups     group:g0 .. g{GROUPS-1}, every user a member of 2; group:dept0 .. dept{DEPTS-1}
 *              each holding 10 groups' members (nested userset)
 * - folders    folder:f0 .. f{FOLDERS-1}: 20 roots, every other folder's parent is an earlier
 *              folder (depth 3–4); half have a group#member viewer, 70% a user viewer
 * - documents  document:d0 .. d{DOCS-1}: a parent folder, an owner, 50% an editor, 70% a direct
 *              user viewer, 30% a group#member viewer (viewer = direct or editor (or owner) or
 *              viewer from parent)
 *
 * Requests: a pool of distinct AccessRequests (action `viewer` on a document) whose subjects are
 * drawn so that roughly half have a relationship path to the document (owner, editor, direct
 * viewer, a viewing group's member, a folder viewer up the tree) and half are random users, with
 * signals (identity assurance, device posture, network, time) spread as an organisation's
 * traffic would be, including a small share of missing or hostile signals.
 */
import type { AccessRequest, Classification, DeviceSignals } from "../../src/policy/access/types.js";
import type { TupleKey } from "../../src/policy/tuples/tuple.js";
import { mix, Rng } from "../engine/rng.js";

export const MODEL_DSL = `model
  schema 1.1

type user

type group
  relations
    define member: [user, group#member]

type folder
  relations
    define parent: [folder]
    define viewer: [user, group#member] or viewer from parent

type document
  relations
    define parent: [folder]
    define owner: [user]
    define editor: [user, group#member] or owner
    define viewer: [user, group#member] or editor or viewer from parent
`;

export const USERS = 5_000;
export const GROUPS = 200;
export const DEPTS = 20;
export const FOLDERS = 2_000;
export const ROOT_FOLDERS = 20;
export const DOCS = 10_000;

/** The evaluation time of every decision (fixed, so decisions are reproducible). */
export const NOW = Date.parse("2026-03-10T14:30:00.000Z");

/** IdP groups (subject.groups), not relationship groups. */
const DEPARTMENTS = ["eng", "eng", "eng", "sales", "finance", "hr", "ops", "legal", "support", "marketing"];
/**
 * Where people work from: the address ranges reserved for documentation (RFC 5737, 2544, 3849),
 * which the risk engine's built-in geolocation dataset places in these cities.
 */
const CITIES: Array<{ country: string; v4?: string; v6?: string }> = [
  { country: "GB", v4: "192.0.2" },
  { country: "US", v4: "198.51.100" },
  { country: "JP", v4: "203.0.113" },
  { country: "FR", v4: "198.18.0" },
  { country: "NL", v4: "198.18.1" },
  { country: "US", v4: "198.19.0" },
  { country: "DE", v6: "2001:db8:0" },
  { country: "AU", v6: "2001:db8:1" },
];
/** Home city of a user, weighted: more in the US and Europe. */
const HOME_CITY = [1, 1, 1, 5, 5, 0, 0, 3, 4, 6, 6, 2, 7];
const EMBARGOED = ["KP", "IR", "SY", "CU"];
const OSES: Array<{ name: string; versions: string[] }> = [
  { name: "macOS", versions: ["14.6", "15.2", "15.3"] },
  { name: "Windows", versions: ["10.0.19045", "11.0.22631", "11.0.26100"] },
  { name: "Linux", versions: ["6.8", "6.11"] },
  { name: "iOS", versions: ["17.7", "18.3"] },
  { name: "Android", versions: ["14", "15"] },
];
const USER_AGENTS = [
  "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_6) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.6 Safari/605.1.15",
  "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
  "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0",
  "Mozilla/5.0 (iPhone; CPU iPhone OS 18_3 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148",
  "tenet-sync/2.4.1 (darwin; arm64)",
];
const ACRS: Array<{ acr: string | undefined; amr: string[] }> = [
  { acr: "urn:tenet:acr:mfa", amr: ["pwd", "otp"] },
  { acr: "urn:tenet:acr:mfa", amr: ["pwd", "otp"] },
  { acr: "urn:tenet:acr:mfa", amr: ["pwd", "sms"] },
  { acr: "urn:tenet:acr:mfa", amr: ["pwd", "otp"] },
  { acr: "urn:tenet:acr:mfa", amr: ["pwd", "otp"] },
  { acr: "urn:tenet:acr:phishing-resistant", amr: ["hwk", "user"] },
  { acr: "urn:tenet:acr:phishing-resistant", amr: ["swk", "user"] },
  { acr: "urn:tenet:acr:hardware", amr: ["hwk", "pin"] },
  { acr: undefined, amr: ["pwd"] },
  { acr: "none", amr: ["pwd"] },
];

export interface Relationships {
  tuples: TupleKey[];
  counts: Record<string, number>;
  /** What the request generator needs to pick subjects that have (or lack) access. */
  docParent: Int32Array;
  docOwner: Int32Array;
  docEditor: Int32Array;
  docViewerUser: Int32Array;
  docViewerGroup: Int32Array;
  folderParent: Int32Array;
  folderViewerUser: Int32Array;
  folderViewerGroup: Int32Array;
  groupMembers: number[][];
  classification: Classification[];
}

/** The user's two relationship groups (distinct). */
function groupsOf(seed: number, u: number): [number, number] {
  const a = mix(seed, u) % GROUPS;
  const b = (a + 1 + (mix(seed + 1, u) % (GROUPS - 1))) % GROUPS;
  return [a, b];
}

export function makeRelationships(seed: number): Relationships {
  const rng = new Rng(seed);
  const tuples: TupleKey[] = [];
  const counts: Record<string, number> = {};
  const add = (kind: string, object: string, relation: string, user: string): void => {
    tuples.push({ object, relation, user });
    counts[kind] = (counts[kind] ?? 0) + 1;
  };
  const groupMembers: number[][] = Array.from({ length: GROUPS }, () => []);
  for (let u = 0; u < USERS; u++) {
    for (const g of groupsOf(seed, u)) {
      add("group member", `group:g${g}`, "member", `user:u${u}`);
      groupMembers[g]!.push(u);
    }
  }
  for (let d = 0; d < DEPTS; d++) {
    for (let k = 0; k < GROUPS / DEPTS; k++) add("dept ← group#member", `group:dept${d}`, "member", `group:g${d * (GROUPS / DEPTS) + k}#member`);
  }
  const folderParent = new Int32Array(FOLDERS).fill(-1);
  const folderViewerUser = new Int32Array(FOLDERS).fill(-1);
  const folderViewerGroup = new Int32Array(FOLDERS).fill(-1);
  for (let f = 0; f < FOLDERS; f++) {
    if (f >= ROOT_FOLDERS) {
      folderParent[f] = Math.floor((f - ROOT_FOLDERS) / 5);
      add("folder parent", `folder:f${f}`, "parent", `folder:f${folderParent[f]}`);
    }
    if (rng.chance(0.5)) {
      folderViewerGroup[f] = rng.int(GROUPS);
      add("folder viewer (group)", `folder:f${f}`, "viewer", `group:g${folderViewerGroup[f]}#member`);
    }
    if (rng.chance(0.7)) {
      folderViewerUser[f] = rng.int(USERS);
      add("folder viewer (user)", `folder:f${f}`, "viewer", `user:u${folderViewerUser[f]}`);
    }
  }
  const docParent = new Int32Array(DOCS);
  const docOwner = new Int32Array(DOCS);
  const docEditor = new Int32Array(DOCS).fill(-1);
  const docViewerUser = new Int32Array(DOCS).fill(-1);
  const docViewerGroup = new Int32Array(DOCS).fill(-1);
  const classification: Classification[] = [];
  for (let d = 0; d < DOCS; d++) {
    const obj = `document:d${d}`;
    docParent[d] = ROOT_FOLDERS + rng.int(FOLDERS - ROOT_FOLDERS);
    add("document parent", obj, "parent", `folder:f${docParent[d]}`);
    docOwner[d] = rng.int(USERS);
    add("document owner", obj, "owner", `user:u${docOwner[d]}`);
    if (rng.chance(0.5)) {
      docEditor[d] = rng.int(USERS);
      if (docEditor[d] !== docOwner[d]) add("document editor", obj, "editor", `user:u${docEditor[d]}`);
    }
    if (rng.chance(0.7)) {
      docViewerUser[d] = rng.int(USERS);
      add("document viewer (user)", obj, "viewer", `user:u${docViewerUser[d]}`);
    }
    if (rng.chance(0.3)) {
      docViewerGroup[d] = rng.int(GROUPS);
      add("document viewer (group)", obj, "viewer", `group:g${docViewerGroup[d]}#member`);
    }
    const c = rng.int(100);
    classification.push(c < 15 ? "public" : c < 55 ? "internal" : c < 90 ? "confidential" : "restricted");
  }
  return { tuples, counts, docParent, docOwner, docEditor, docViewerUser, docViewerGroup, folderParent, folderViewerUser, folderViewerGroup, groupMembers, classification };
}

/** A subject's standing attributes (the same user always looks the same). */
export interface Person {
  id: string;
  groups: string[];
  acr: string | undefined;
  amr: string[];
  /** Seconds before NOW of the last authentication. */
  authAge: number;
  device: DeviceSignals | undefined;
  /** Devices this user has used before (the current one mostly among them). */
  knownDevices: string[];
  homeCity: number;
  /** Usual working hour (UTC) for the sign-in histogram. */
  usualHour: number;
  flagged: boolean;
  recentFailures: number;
}

export function person(seed: number, u: number): Person {
  const r = new Rng(mix(seed ^ 0x5bd1e995, u));
  const dept = DEPARTMENTS[r.int(DEPARTMENTS.length)]!;
  const groups = [dept, `team-${r.int(10)}`, "employees"];
  if (r.chance(0.08)) groups.push("contractors");
  if (r.chance(0.03)) groups.push("security-approvers");
  const a = ACRS[r.int(ACRS.length)]!;
  // Most sessions are a few hours old; some are days old.
  const authAge = r.chance(0.8) ? r.int(8 * 3600) : 8 * 3600 + r.int(4 * 86400);
  let device: DeviceSignals | undefined;
  const knownDevices = [`dev-${u}-a`, `dev-${u}-b`];
  if (!r.chance(0.05)) {
    const os = OSES[r.int(OSES.length)]!;
    const registered = r.chance(0.92);
    const managed = registered && r.chance(0.8);
    device = {
      id: r.chance(0.9) ? knownDevices[r.int(2)]! : `dev-${u}-new${r.int(100)}`,
      registered,
      managed,
      compliant: managed && r.chance(0.85),
      os: { name: os.name, version: os.versions[r.int(os.versions.length)]! },
      patch_level: `2026-0${1 + r.int(3)}`,
      disk_encryption: r.chance(0.9),
      screen_lock: r.chance(0.95),
      firewall: r.chance(0.8),
      // Seconds since the last posture report: usually minutes, sometimes over a week.
      posture_age: r.chance(0.94) ? r.int(6 * 3600) : 7 * 86400 + r.int(7 * 86400),
    };
  }
  return {
    id: `user:u${u}`,
    groups,
    acr: a.acr,
    amr: a.amr,
    authAge,
    device,
    knownDevices,
    homeCity: HOME_CITY[r.int(HOME_CITY.length)]!,
    usualHour: 7 + r.int(12),
    flagged: r.chance(0.005),
    recentFailures: r.chance(0.05) ? 1 + r.int(6) : 0,
  };
}

function cityAddress(r: Rng, c: number): { ip: string; country: string } {
  const city = CITIES[c]!;
  const ip = city.v4 !== undefined ? `${city.v4}.${1 + r.int(254)}` : `${city.v6}::${(1 + r.int(65535)).toString(16)}`;
  return { ip, country: city.country };
}

/** A client address and the country a geo database would give for it. */
function network(r: Rng, p: Person): { ip: string; country: string } {
  const x = r.int(1000);
  const home = CITIES[p.homeCity]!.country;
  if (x < 350) return { ip: `10.${r.int(4)}.${r.int(256)}.${1 + r.int(254)}`, country: home }; // office / VPN
  if (x < 370) return { ip: `185.220.101.${1 + r.int(254)}`, country: "DE" }; // Tor exit
  if (x < 380) return { ip: `45.155.205.${1 + r.int(254)}`, country: "RU" }; // on a deny list
  if (x < 390) return { ip: `5.160.${r.int(256)}.${1 + r.int(254)}`, country: EMBARGOED[r.int(EMBARGOED.length)]! };
  if (x < 450) return cityAddress(r, r.int(CITIES.length)); // travelling (or not: it may be home)
  return cityAddress(r, p.homeCity); // home broadband
}

/**
 * What a history store would hold for this person (the risk engine's SubjectHistory shape):
 * the last sign-ins (the latest one at `auth_time`, from home), the devices used before, an
 * hour-of-day histogram around the usual hour, recent failures and the credential's state.
 */
export interface History {
  signIns: Array<{ time: number; ip: string; deviceId: string }>;
  failedSignIns: number[];
  knownDeviceIds: string[];
  hourHistogram: number[];
  credential: { flagged: boolean; reason?: string };
}

export function historyOf(seed: number, u: number, p: Person): History {
  const r = new Rng(mix(seed ^ 0x68e31da4, u));
  const last = NOW - p.authAge * 1000;
  const signIns: History["signIns"] = [];
  for (let k = 4; k >= 1; k--) signIns.push({ time: last - k * (86_400_000 + r.int(3_600_000)), ...cityAddress(r, p.homeCity), deviceId: p.knownDevices[k & 1]! });
  signIns.push({ time: last, ip: cityAddress(r, p.homeCity).ip, deviceId: p.device?.id ?? p.knownDevices[0]! });
  const hourHistogram = new Array<number>(24).fill(0);
  for (let k = 0; k < 120; k++) hourHistogram[(p.usualHour + r.int(9) - 4 + 24) % 24]! += 1;
  return {
    signIns: signIns.map((s) => ({ time: s.time, ip: s.ip, deviceId: s.deviceId })),
    failedSignIns: Array.from({ length: p.recentFailures }, (_, k) => NOW - (k + 1) * 60_000),
    knownDeviceIds: p.knownDevices,
    hourHistogram,
    credential: p.flagged ? { flagged: true, reason: "password seen in a breach corpus" } : { flagged: false },
  };
}

/** A user who can probably view document d through one of its relationship paths, or -1. */
function userWithAccess(r: Rng, rel: Relationships, d: number): number {
  for (let tries = 0; tries < 4; tries++) {
    const way = r.int(6);
    if (way === 0) return rel.docOwner[d]!;
    if (way === 1 && rel.docEditor[d]! >= 0) return rel.docEditor[d]!;
    if (way === 2 && rel.docViewerUser[d]! >= 0) return rel.docViewerUser[d]!;
    if (way === 3 && rel.docViewerGroup[d]! >= 0) {
      const m = rel.groupMembers[rel.docViewerGroup[d]!]!;
      if (m.length) return m[r.int(m.length)]!;
    }
    if (way >= 4) {
      // A viewer somewhere up the folder tree.
      for (let f = rel.docParent[d]!; f >= 0; f = rel.folderParent[f]!) {
        if (!r.chance(0.5)) continue;
        if (rel.folderViewerUser[f]! >= 0 && r.chance(0.5)) return rel.folderViewerUser[f]!;
        if (rel.folderViewerGroup[f]! >= 0) {
          const m = rel.groupMembers[rel.folderViewerGroup[f]!]!;
          if (m.length) return m[r.int(m.length)]!;
        }
      }
    }
  }
  return -1;
}

export interface RequestPool {
  requests: AccessRequest[];
  /** Subject id → the person behind it. */
  people: Map<string, Person>;
  /** Subject id → what a history store would hold (for the risk engine). */
  histories: Map<string, History>;
}

/** `count` distinct requests: about half from users with a relationship path to the document. */
export function makeRequests(seed: number, rel: Relationships, count: number): RequestPool {
  const r = new Rng(seed);
  const people = new Map<string, Person>();
  const histories = new Map<string, History>();
  const seen = new Set<string>();
  const requests: AccessRequest[] = [];
  while (requests.length < count) {
    const d = r.int(DOCS);
    let u = r.chance(0.55) ? userWithAccess(r, rel, d) : -1;
    if (u < 0) u = r.int(USERS);
    const key = `${u}/${d}`;
    if (seen.has(key)) continue;
    seen.add(key);
    let p = people.get(`user:u${u}`);
    if (!p) {
      people.set(`user:u${u}`, (p = person(seed, u)));
      histories.set(p.id, historyOf(seed, u, p));
    }
    const net = network(r, p);
    // Requests are spread over the day before NOW (request.time is the client's; hour rules use it).
    const time = new Date(NOW - r.int(86_400) * 1000).toISOString();
    const subject: AccessRequest["subject"] = { id: p.id, groups: p.groups, amr: p.amr, auth_time: Math.floor(NOW / 1000) - p.authAge };
    if (p.acr !== undefined) subject.acr = p.acr;
    const method = r.chance(0.85) ? "GET" : r.chance(0.5) ? "HEAD" : "POST";
    const req: AccessRequest = {
      subject,
      request: {
        ip: net.ip,
        country: net.country,
        time,
        method,
        host: "docs.example.com",
        path: `/api/v1/documents/d${d}`,
        user_agent: r.chance(0.01) ? "curl/8.5.0" : USER_AGENTS[r.int(USER_AGENTS.length)]!,
      },
      resource: { type: "document", id: `d${d}`, classification: rel.classification[d]!, owner: `user:u${rel.docOwner[d]}` },
      action: "viewer",
    };
    if (p.device) req.device = p.device;
    requests.push(req);
  }
  return { requests, people, histories };
}
