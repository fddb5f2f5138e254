/**
 * Child processes of the API benchmark: the minimal ceiling server, the autocannon load
 * generator, and (with BENCH_PROFILE=1) a summary of the CPU profile `tenet serve` wrote.
 */
import { execFileSync, spawn } from "node:child_process";
import { readFileSync, readdirSync, writeFileSync } from "node:fs";
import { basename, join } from "node:path";
import { fileURLToPath } from "node:url";
import type { CannonOutput, CannonPlan } from "./cannon.js";

const here = (f: string): string => fileURLToPath(new URL(f, import.meta.url));
/** bin/tenet.js, from dist/bench/api/. */
const TENET_BIN = fileURLToPath(new URL("../../../bin/tenet.js", import.meta.url));

export interface TenetServer {
  url: string;
  pid: number;
  output: () => string;
  /** SIGTERM (a graceful drain, after which a --cpu-prof profile is written); resolves to the exit code. */
  stop: () => Promise<number | null>;
  /** How the server ended if it ended without stop() (killed or signalled by someone else), else undefined. */
  unexpectedExit: () => string | undefined;
}

/**
 * Spawns `tenet serve --port 0` as users run it (like test/e2e/serve-process.ts, plus node flags
 * such as --cpu-prof, which NODE_OPTIONS does not accept) and waits for "tenet listening on URL".
 */
export function startTenet(env: NodeJS.ProcessEnv, nodeArgs: string[] = [], timeoutMs = 20_000): Promise<TenetServer> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...nodeArgs, TENET_BIN, "serve", "--port", "0"], { env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    let stopping = false;
    let ended: string | undefined;
    const exited = new Promise<number | null>((r) =>
      child.once("exit", (code, signal) => {
        // Exit code 0 without stop(): `tenet serve` drained after a SIGTERM or SIGINT from outside.
        ended = signal ? `was killed by ${signal}` : code === 0 ? "exited with code 0 (a SIGTERM or SIGINT from another process)" : `exited with code ${code}`;
        r(code);
      }),
    );
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`tenet serve did not start in ${timeoutMs} ms:\n${out}`));
    }, timeoutMs);
    child.stderr.on("data", (d: Buffer) => (out += d.toString()));
    child.stdout.on("data", (d: Buffer) => {
      out += d.toString();
      const m = /tenet listening on (http:\/\/\S+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve({
          url: m[1]!,
          pid: child.pid ?? 0,
          output: () => out,
          stop: async () => {
            stopping = true;
            if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
            return exited;
          },
          unexpectedExit: () => (stopping ? undefined : ended),
        });
      }
    });
    child.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`tenet serve exited with ${code} before listening:\n${out}`));
    });
  });
}

export interface MinimalServer {
  url: string;
  pid: number;
  stop: () => Promise<void>;
}

export function startMinimal(timeoutMs = 10_000): Promise<MinimalServer> {
  return startListening(here("./minimal-server.js"), [], "minimal", "the minimal server", timeoutMs);
}

/**
 * Starts a bench helper script in a process of its own and waits for its "<label> listening on
 * URL" line (the minimal upstream, the bare proxy).
 */
export function startListening(script: string, args: string[], label: string, name: string, timeoutMs = 10_000): Promise<MinimalServer> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [script, ...args], { stdio: ["ignore", "pipe", "inherit"] });
    let out = "";
    const exited = new Promise<void>((r) => child.once("exit", () => r()));
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`${name} did not start in ${timeoutMs} ms: ${out}`));
    }, timeoutMs);
    const listening = new RegExp(`${label} listening on (http://\\S+)`);
    child.stdout.on("data", (d: Buffer) => {
      out += d.toString();
      const m = listening.exec(out);
      if (!m) return;
      clearTimeout(timer);
      resolve({
        url: m[1]!,
        pid: child.pid ?? 0,
        stop: async () => {
          if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
          await exited;
        },
      });
    });
    child.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`${name} exited with ${code}: ${out}`));
    });
  });
}

/** Clock ticks per second for /proc/<pid>/stat (100 on practically every Linux). */
export function clkTck(): number {
  try {
    const n = Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).trim());
    return Number.isFinite(n) && n > 0 ? n : 100;
  } catch {
    return 100;
  }
}

/** Runs cannon.js with `plan` in a process of its own; its progress lines go to our stderr. */
export function runCannon(plan: CannonPlan, dir: string, name: string): Promise<CannonOutput> {
  const file = join(dir, `plan-${name}.json`);
  writeFileSync(file, JSON.stringify(plan));
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [here("./cannon.js"), file], { stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    let err = "";
    child.stdout.on("data", (d: Buffer) => (out += d.toString()));
    child.stderr.on("data", (d: Buffer) => {
      err += d.toString();
      process.stderr.write(d);
    });
    child.once("error", reject);
    child.once("exit", (code, signal) => {
      const line = out.trim().split("\n").pop() ?? "";
      if (code !== 0 || !line.startsWith("{")) {
        reject(new Error(`load generator failed (${signal ?? `exit ${code}`}): ${err.trim() || out.trim()}`));
        return;
      }
      resolve(JSON.parse(line) as CannonOutput);
    });
  });
}

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
  children?: number[];
}

/**
 * Request stages, each recognised by a frame on the stack (function name, and a piece of its
 * file's path): a sample counts towards every stage whose frame is among its callers, once.
 */
const STAGES: Array<{ stage: string; fn: string; url: string }> = [
  { stage: "socket write (writev syscall: loopback TCP send)", fn: "writev", url: "" },
  { stage: "body JSON.parse (fastify, secure-json-parse)", fn: "defaultJsonParser", url: "fastify/lib/content-type-parser" },
  { stage: "authentication (API key, SHA-256)", fn: "authenticate", url: "api/auth/authenticator" },
  { stage: "request validation (zod)", fn: "parse", url: "dist/src/api/route" },
  { stage: "policy check (PolicyService.check → engine)", fn: "check", url: "dist/src/policy/service" },
  { stage: "policy batch check (PolicyService.batchCheck → engine)", fn: "batchCheck", url: "dist/src/policy/service" },
  { stage: "response serialisation (fastify)", fn: "serialize", url: "fastify/lib/reply" },
  { stage: "metrics hook (prom-client)", fn: "observe", url: "prom-client" },
  { stage: "garbage collection", fn: "(garbage collector)", url: "" },
];

export interface ProfileSummary {
  file: string;
  totalMs: number;
  /** Self time by function, largest first (percent of non-idle samples). */
  top: Array<{ fn: string; where: string; selfPct: number }>;
  /** Self time by where the code lives (Tenet, fastify, zod, pino, Node internals, ...). */
  byArea: Array<{ area: string; selfPct: number }>;
  /** Inclusive time of request stages (they may nest, so they need not add up to 100%). */
  byStage: Array<{ stage: string; pct: number }>;
}

function area(url: string, fn: string): string {
  if (url === "") return fn.startsWith("(") ? fn : "(native)";
  if (url.startsWith("node:")) return "node internals";
  const nm = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (nm) return nm[1]!;
  const src = /\/dist\/src\/([^/]+)(?:\/([^/]+))?/.exec(url);
  if (src) return `tenet ${src[1]}${src[2] && !src[2].endsWith(".js") ? `/${src[2]}` : ""}`;
  return basename(url);
}

/** Summarises the newest .cpuprofile in `dir` (self time per function and per area). */
export function summarizeProfile(dir: string, topN = 25): ProfileSummary | undefined {
  const files = readdirSync(dir).filter((f) => f.endsWith(".cpuprofile")).sort();
  const name = files[files.length - 1];
  if (!name) return undefined;
  const file = join(dir, name);
  const prof = JSON.parse(readFileSync(file, "utf8")) as { nodes: ProfileNode[]; startTime: number; endTime: number };
  const nodes = new Map(prof.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of prof.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const stageOf = (n: ProfileNode): number => STAGES.findIndex((st) => st.fn === n.callFrame.functionName && n.callFrame.url.includes(st.url));
  const stageHits = STAGES.map(() => 0);
  let hits = 0;
  const byFn = new Map<string, { fn: string; where: string; hits: number }>();
  const byArea = new Map<string, number>();
  for (const n of prof.nodes) {
    const h = n.hitCount ?? 0;
    // Percentages are of busy time: idle samples (waiting for I/O) are left out.
    if (h === 0 || n.callFrame.functionName === "(idle)") continue;
    hits += h;
    const fn = n.callFrame.functionName || "(anonymous)";
    const where = n.callFrame.url ? `${n.callFrame.url.replace(/^.*\/(node_modules|dist)\//, "$1/")}:${n.callFrame.lineNumber + 1}` : "";
    const key = `${fn}@${where}`;
    const e = byFn.get(key) ?? { fn, where, hits: 0 };
    e.hits += h;
    byFn.set(key, e);
    const a = area(n.callFrame.url, fn);
    byArea.set(a, (byArea.get(a) ?? 0) + h);
    const seen = new Set<number>();
    for (let cur: ProfileNode | undefined = n; cur; cur = nodes.get(parent.get(cur.id) ?? -1)) {
      const st = stageOf(cur);
      if (st >= 0 && !seen.has(st)) {
        seen.add(st);
        stageHits[st]! += h;
      }
    }
  }
  const pctOf = (h: number): number => (hits ? (100 * h) / hits : 0);
  return {
    file,
    totalMs: (prof.endTime - prof.startTime) / 1000,
    top: [...byFn.values()].sort((a, b) => b.hits - a.hits).slice(0, topN).map((e) => ({ fn: e.fn, where: e.where, selfPct: pctOf(e.hits) })),
    byArea: [...byArea.entries()].sort((a, b) => b[1] - a[1]).map(([a, h]) => ({ area: a, selfPct: pctOf(h) })),
    byStage: STAGES.map((st, i) => ({ stage: st.stage, pct: pctOf(stageHits[i]!) })).filter((x) => x.pct > 0),
  };
}
