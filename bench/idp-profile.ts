/**
 * Where the identity provider's CPU time went during given time windows of its life (a
 * `--cpu-prof` profile of `tenet serve`, written when it stops). The windows are the measured
 * phases of bench/idp.bench.ts, in `process.hrtime` microseconds: V8 stamps profile samples with
 * the same monotonic clock (CLOCK_MONOTONIC on Linux), so the parent's timestamps select the
 * child's samples and the set-up (minting codes, signing in) stays out of the shares.
 */
import { readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}

interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

export interface Window {
  name: string;
  /** process.hrtime microseconds. */
  from: number;
  to: number;
}

export interface WindowProfile {
  name: string;
  /** Samples in the window, and the share of them that was not idle (the event loop busy). */
  samples: number;
  busyPct: number;
  /** Each busy sample counted once, towards the first bucket met walking up from its leaf. */
  buckets: Array<{ bucket: string; pct: number }>;
  /** Self time by function (percent of busy samples). */
  top: Array<{ fn: string; where: string; pct: number }>;
}

/**
 * Buckets, tried from a sample's leaf frame upwards; the first frame that matches names the
 * bucket. Native code (better-sqlite3's statements and the fsync of each commit, crypto) has no
 * URL, so its time goes to the JavaScript frame that called it.
 */
const BUCKETS: Array<{ bucket: string; test: (fn: string, url: string) => boolean }> = [
  { bucket: "(garbage collector)", test: (fn) => fn === "(garbage collector)" },
  { bucket: "(program): native work outside JavaScript (event loop, V8)", test: (fn) => fn === "(program)" },
  { bucket: "documents: SQLite write + commit (putDocument; WAL fsync per commit)", test: (fn, url) => fn === "putDocument" && url.includes("sqlite-datastore") },
  { bucket: "documents: SQLite read (getDocument)", test: (fn, url) => fn === "getDocument" && url.includes("sqlite-datastore") },
  { bucket: "documents: SQLite delete / list", test: (fn, url) => (fn === "deleteDocument" || fn === "listDocuments") && url.includes("sqlite-datastore") },
  { bucket: "documents: SQLite other (better-sqlite3 exec: transactions, pragmas)", test: (_fn, url) => url.includes("node_modules/better-sqlite3/") },
  { bucket: "documents: PostgreSQL (pg client: queries, parsing rows)", test: (_fn, url) => url.includes("postgres-datastore") || /node_modules\/(pg|pg-protocol|pg-pool|pg-types)\//.test(url) },
  // oidc-provider's JWT helper signs through jose, which calls Node's crypto.
  { bucket: "ID token signing (oidc-provider → jose → ES256)", test: (_fn, url) => url.includes("oidc-provider/lib/helpers/jwt") || url.includes("node_modules/jose/") },
  { bucket: "client secret / PKCE comparison (oidc-provider)", test: (_fn, url) => url.includes("oidc-provider/lib/helpers/pkce") || url.includes("oidc-provider/lib/shared/token_auth") || url.includes("oidc-provider/lib/helpers/constant_equals") },
  { bucket: "oidc-provider models (token objects, claims)", test: (_fn, url) => url.includes("oidc-provider/lib/models") },
  { bucket: "oidc-provider (the rest: routing, grants, params, errors)", test: (_fn, url) => url.includes("oidc-provider/") },
  { bucket: "Tenet identity (adapter, sessions, directory, clients)", test: (_fn, url) => url.includes("/dist/src/identity/") },
  { bucket: "Tenet (other)", test: (_fn, url) => url.includes("/dist/src/") },
  { bucket: "koa and its middleware", test: (_fn, url) => /node_modules\/(koa|@koa|koa-[^/]+|cookies|keygrip|raw-body|statuses|http-errors|content-type|media-typer|type-is|accepts|negotiator)\//.test(url) },
  { bucket: "fastify (healthz, routing)", test: (_fn, url) => url.includes("node_modules/fastify") || url.includes("node_modules/find-my-way") || url.includes("node_modules/pino") },
  { bucket: "node:http, streams, sockets (no library caller)", test: (_fn, url) => url.startsWith("node:") },
];

/**
 * Frames that say nothing of their own, skipped on the way up: the SQLite datastore runs each
 * statement in an arrow function inside `guard` (which classifies errors), so the statement's
 * time (and a commit's fsync) is the self time of that arrow and the method above it names the
 * operation; Node's crypto is charged to whoever signs or hashes (the ID token's ES256 signature
 * to oidc-provider's JWT helper, PKCE's SHA-256 to its PKCE check).
 */
const transparent = (fn: string, url: string): boolean => (url.includes("sqlite-datastore") && (fn === "" || fn === "guard")) || url.startsWith("node:internal/crypto") || url === "node:crypto";

/** Summarises the main thread's .cpuprofile in `dir` over each window. */
export function profileWindows(dir: string, windows: Window[], topN = 15): { file: string; windows: WindowProfile[] } | undefined {
  // CPU.<date>.<time>.<pid>.<thread>.<seq>.cpuprofile: thread 0 is the main thread (workers,
  // such as the audit log's writer, write profiles of their own).
  const files = readdirSync(dir).filter((f) => f.endsWith(".cpuprofile"));
  const name = files.filter((f) => /\.\d+\.0\.\d+\.cpuprofile$/.test(f)).sort().pop() ?? files.sort().pop();
  if (!name) return undefined;
  const file = join(dir, name);
  const prof = JSON.parse(readFileSync(file, "utf8")) as CpuProfile;
  const nodes = new Map(prof.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of prof.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const bucketOf = new Map<number, string>();
  const classify = (id: number): string => {
    const hit = bucketOf.get(id);
    if (hit !== undefined) return hit;
    let b = "other (native, no JavaScript caller)";
    for (let cur = nodes.get(id); cur; cur = nodes.get(parent.get(cur.id) ?? -1)) {
      if (transparent(cur.callFrame.functionName, cur.callFrame.url)) continue;
      const rule = BUCKETS.find((r) => r.test(cur!.callFrame.functionName, cur!.callFrame.url));
      if (rule) {
        b = rule.bucket;
        break;
      }
    }
    bucketOf.set(id, b);
    return b;
  };

  const out: WindowProfile[] = [];
  for (const w of windows) {
    let t = prof.startTime;
    let total = 0;
    let busy = 0;
    const buckets = new Map<string, number>();
    const self = new Map<number, number>();
    for (let i = 0; i < prof.samples.length; i++) {
      t += prof.timeDeltas[i]!;
      if (t < w.from || t > w.to) continue;
      total++;
      const id = prof.samples[i]!;
      const fn = nodes.get(id)?.callFrame.functionName;
      if (fn === "(idle)") continue;
      busy++;
      const b = classify(id);
      buckets.set(b, (buckets.get(b) ?? 0) + 1);
      self.set(id, (self.get(id) ?? 0) + 1);
    }
    const pct = (n: number) => (busy ? (100 * n) / busy : 0);
    const byFn = new Map<string, { fn: string; where: string; n: number }>();
    for (const [id, n] of self) {
      const cf = nodes.get(id)!.callFrame;
      const fn = cf.functionName || "(anonymous)";
      const where = cf.url ? `${cf.url.replace(/^.*\/(node_modules|dist)\//, "$1/")}:${cf.lineNumber + 1}` : "";
      const e = byFn.get(`${fn}@${where}`) ?? { fn, where, n: 0 };
      e.n += n;
      byFn.set(`${fn}@${where}`, e);
    }
    out.push({
      name: w.name,
      samples: total,
      busyPct: total ? (100 * busy) / total : 0,
      buckets: [...buckets.entries()].sort((a, b) => b[1] - a[1]).map(([bucket, n]) => ({ bucket, pct: pct(n) })),
      top: [...byFn.values()]
        .sort((a, b) => b.n - a.n)
        .slice(0, topN)
        .map((e) => ({ fn: e.fn, where: e.where, pct: pct(e.n) })),
    });
  }
  return { file, windows: out };
}
