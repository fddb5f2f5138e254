/**
 * Where `tenet serve`'s CPU time went per proxied request, from a `--cpu-prof` profile over the
 * time windows of bench/proxy.bench.ts's phases (process.hrtime microseconds: V8 stamps samples
 * with the same monotonic clock, so the set-up stays out). The load generator and the upstream
 * are other processes, and during a phase's direct rounds Tenet is idle (idle samples are left
 * out), so the busy samples of a window are the proxied requests'.
 */
import { readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}

export interface StageProfile {
  name: string;
  samples: number;
  busyPct: number;
  /** Busy sampled time ÷ 2xx answers of the window. */
  busyUsPerRequest: number;
  stages: Array<{ stage: string; pct: number; usPerRequest: number }>;
  top: Array<{ fn: string; where: string; pct: number }>;
}

/**
 * The request's stages, by priority: a sample goes to the first stage of this list that has a
 * frame anywhere on its stack (so the audit append inside the decision is the audit's, the
 * assertion signing inside the forward is the signing's). After an `await`, a continuation runs
 * with only its own frame on the stack: what follows an await inside `handle` is "proxy (rest)".
 */
const STAGES: Array<{ stage: string; test: (fn: string, url: string) => boolean }> = [
  { stage: "garbage collection", test: (fn) => fn === "(garbage collector)" },
  { stage: "(program): native, outside JavaScript (event loop, syscalls, V8)", test: (fn) => fn === "(program)" },
  { stage: "decision: audit record (src/audit)", test: (_fn, url) => url.includes("/dist/src/audit/") },
  { stage: "assertion signing (AssertionIssuer → ES256)", test: (_fn, url) => url.includes("/dist/src/enforcement/assertion") },
  { stage: "session cookie open (AES-GCM, SessionCookies.read)", test: (_fn, url) => url.includes("/dist/src/enforcement/session-cookie") },
  { stage: "normalisation (normalizeRequest)", test: (_fn, url) => url.includes("/dist/src/enforcement/normalize") },
  { stage: "identityOfAccessToken (documents: AccessToken, Grant, Session, user, groups)", test: (fn) => fn === "identityOfAccessToken" },
  { stage: "decision (Enforcer → AccessDecisionPoint: policy, relations)", test: (_fn, url) => url.includes("/dist/src/enforcement/enforcer") || url.includes("/dist/src/policy/") },
  { stage: "documents / SQLite (other callers)", test: (_fn, url) => url.includes("sqlite-datastore") || url.includes("node_modules/better-sqlite3/") },
  { stage: "identity (other: provider models, tokens)", test: (_fn, url) => url.includes("/dist/src/identity/") || url.includes("node_modules/oidc-provider/") },
  { stage: "forwarding (undici request + response piping)", test: (fn, url) => url.includes("node_modules/undici/") || fn === "forward" },
  { stage: "proxy (rest: handle, reply, headers)", test: (_fn, url) => url.includes("/dist/src/enforcement/proxy/") },
  { stage: "Tenet (other)", test: (_fn, url) => url.includes("/dist/src/") },
  { stage: "fastify / pino", test: (_fn, url) => /node_modules\/(fastify|find-my-way|pino|avvio|light-my-request)/.test(url) },
  { stage: "node:http server, streams, sockets", test: (_fn, url) => url.startsWith("node:") },
];

/** Summarises the main thread's .cpuprofile in `dir` over each window; `requests` = 2xx per window name. */
export function profileStages(dir: string, windows: Array<{ name: string; from: number; to: number }>, requests: Map<string, number>, topN = 15): { file: string; windows: StageProfile[] } | undefined {
  const files = readdirSync(dir).filter((f) => f.endsWith(".cpuprofile"));
  const name = files.filter((f) => /\.\d+\.0\.\d+\.cpuprofile$/.test(f)).sort().pop() ?? files.sort().pop();
  if (!name) return undefined;
  const file = join(dir, name);
  const prof = JSON.parse(readFileSync(file, "utf8")) as { nodes: ProfileNode[]; startTime: number; samples: number[]; timeDeltas: number[] };
  const nodes = new Map(prof.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of prof.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const stageOf = new Map<number, number>();
  const classify = (id: number): number => {
    const hit = stageOf.get(id);
    if (hit !== undefined) return hit;
    let best = STAGES.length; // "other"
    for (let cur = nodes.get(id); cur; cur = nodes.get(parent.get(cur.id) ?? -1)) {
      const i = STAGES.findIndex((s) => s.test(cur!.callFrame.functionName, cur!.callFrame.url));
      if (i >= 0 && i < best) best = i;
    }
    stageOf.set(id, best);
    return best;
  };
  const out: StageProfile[] = [];
  for (const w of windows) {
    let t = prof.startTime;
    let total = 0;
    let busy = 0;
    let busyUs = 0;
    const counts = new Array<number>(STAGES.length + 1).fill(0);
    const self = new Map<number, number>();
    for (let i = 0; i < prof.samples.length; i++) {
      const dt = prof.timeDeltas[i]!;
      t += dt;
      if (t < w.from || t > w.to) continue;
      total++;
      const id = prof.samples[i]!;
      if (nodes.get(id)?.callFrame.functionName === "(idle)") continue;
      busy++;
      busyUs += dt;
      counts[classify(id)]!++;
      self.set(id, (self.get(id) ?? 0) + 1);
    }
    const n = requests.get(w.name) ?? 0;
    const perReq = n > 0 ? busyUs / n : Number.NaN;
    const pct = (c: number): number => (busy ? (100 * c) / busy : 0);
    const byFn = new Map<string, { fn: string; where: string; n: number }>();
    for (const [id, c] of self) {
      const cf = nodes.get(id)!.callFrame;
      const fn = cf.functionName || "(anonymous)";
      const where = cf.url ? `${cf.url.replace(/^.*\/(node_modules|dist)\//, "$1/")}:${cf.lineNumber + 1}` : "";
      const e = byFn.get(`${fn}@${where}`) ?? { fn, where, n: 0 };
      e.n += c;
      byFn.set(`${fn}@${where}`, e);
    }
    out.push({
      name: w.name,
      samples: total,
      busyPct: total ? (100 * busy) / total : 0,
      busyUsPerRequest: perReq,
      stages: counts
        .map((c, i) => ({ stage: STAGES[i]?.stage ?? "other", pct: pct(c), usPerRequest: (perReq * pct(c)) / 100 }))
        .filter((s) => s.pct > 0)
        .sort((a, b) => b.pct - a.pct),
      top: [...byFn.values()]
        .sort((a, b) => b.n - a.n)
        .slice(0, topN)
        .map((e) => ({ fn: e.fn, where: e.where, pct: pct(e.n) })),
    });
  }
  return { file, windows: out };
}
