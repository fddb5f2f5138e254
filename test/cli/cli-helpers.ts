/**
 * Helpers for running the real `tenet` binary (bin/tenet.js) as a child process, the way users
 * run it: one-shot commands with separate stdout/stderr, and `tenet serve` waited on until it
 * prints "tenet listening on URL". The environment never inherits TENET_* variables from the
 * caller, so a developer's TENET_DATABASE_URL cannot turn a SQLite test into a PostgreSQL one.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PolicyService } from "../../src/policy/service.js";
import { reaped } from "../child-reaper.js";
import { openDatastore } from "../../src/storage/open.js";

export const BIN = new URL("../../../bin/tenet.js", import.meta.url).pathname;
/** The repository root (the directory holding bin/ and package.json). */
export const ROOT = new URL("../../../", import.meta.url).pathname;

export const ULID = /^[0-7][0-9A-HJKMNP-TV-Z]{25}$/;
/** A line of a JavaScript stack trace ("    at fn (file:1:2)"). */
export const STACK_FRAME = /^\s+at\s.+(:\d+:\d+\)?|native|<anonymous>)\s*$/m;

/** process.env without any TENET_* variable, plus a quiet log level. */
export function cleanEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith("TENET_")) env[k] = v;
  return { ...env, TENET_LOG_LEVEL: "warn", ...extra };
}

export interface RunResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  out: string;
  err: string;
}

/** Runs `tenet ARGS...` to completion (killed after timeoutMs). */
export function tenet(args: string[], opts: { env?: NodeJS.ProcessEnv; cwd?: string; timeoutMs?: number } = {}): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = reaped(spawn(process.execPath, [BIN, ...args], { env: cleanEnv(opts.env), cwd: opts.cwd ?? ROOT, stdio: ["ignore", "pipe", "pipe"] }));
    let out = "";
    let err = "";
    child.stdout.on("data", (d: Buffer) => (out += d.toString()));
    child.stderr.on("data", (d: Buffer) => (err += d.toString()));
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`tenet ${args.join(" ")} did not finish in ${opts.timeoutMs ?? 20_000} ms\nstdout: ${out}\nstderr: ${err}`));
    }, opts.timeoutMs ?? 20_000);
    child.once("error", reject);
    child.once("close", (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, out, err });
    });
  });
}

export interface Server {
  url: string;
  child: ChildProcess;
  stdout: () => string;
  stderr: () => string;
  /** Resolves with the exit code (or null if killed by a signal) when the process ends. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Sends a signal (SIGTERM by default) unless already exited, and waits for the exit. */
  stop: (signal?: NodeJS.Signals) => Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/**
 * Starts `tenet serve ARGS` and waits for the "tenet listening on URL" line on stdout, then (unless
 * `ready: false`) for GET /healthz to answer. The second wait matters: serve installs its
 * SIGTERM/SIGINT handlers just after printing the line, so a signal sent the instant the line
 * appears can still meet the default action (see serve.test.ts, "SIGTERM right after ...").
 */
export function serve(env: NodeJS.ProcessEnv, args: string[] = ["--port", "0"], timeoutMs = 20_000, opts: { ready?: boolean } = {}): Promise<Server> {
  const started = startServe(env, args, timeoutMs);
  if (opts.ready === false) return started;
  return started.then(async (srv) => {
    try {
      const res = await fetch(`${srv.url}/healthz`);
      await res.arrayBuffer();
      if (res.status !== 200) throw new Error(`GET /healthz answered ${res.status}`);
    } catch (err) {
      await srv.stop("SIGKILL");
      throw err;
    }
    return srv;
  });
}

function startServe(env: NodeJS.ProcessEnv, args: string[], timeoutMs: number): Promise<Server> {
  return new Promise((resolve, reject) => {
    const child = reaped(spawn(process.execPath, [BIN, "serve", ...args], { env: cleanEnv(env), cwd: ROOT, stdio: ["ignore", "pipe", "pipe"] }));
    let out = "";
    let err = "";
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((r) =>
      child.once("exit", (code, signal) => r({ code, signal })),
    );
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`tenet serve did not start in ${timeoutMs} ms\nstdout: ${out}\nstderr: ${err}`));
    }, timeoutMs);
    let started = false;
    child.stdout!.on("data", (d: Buffer) => {
      out += d.toString();
      const m = /tenet listening on (https?:\/\/\S+)/.exec(out);
      if (m && !started) {
        started = true;
        clearTimeout(timer);
        resolve({
          url: m[1]!,
          child,
          stdout: () => out,
          stderr: () => err,
          exited,
          stop: async (signal = "SIGTERM") => {
            if (child.exitCode === null && child.signalCode === null) child.kill(signal);
            return exited;
          },
        });
      }
    });
    child.stderr!.on("data", (d: Buffer) => (err += d.toString()));
    void exited.then(({ code, signal }) => {
      clearTimeout(timer);
      if (!started) reject(new Error(`tenet serve exited (${code ?? signal}) before listening\nstdout: ${out}\nstderr: ${err}`));
    });
  });
}

/** A fresh temporary directory; removed by cleanup(). */
const dirs: string[] = [];
export function tempDir(prefix = "tenet-clitest-"): string {
  const d = mkdtempSync(join(tmpdir(), prefix));
  dirs.push(d);
  return d;
}
export function cleanup(): void {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
}

/** The admin key written by the first start. */
export function adminToken(dataDir: string): string {
  return readFileSync(join(dataDir, "admin.token"), "utf8").trim();
}

export interface HttpResult {
  status: number;
  json: Record<string, unknown>;
  headers: Headers;
}

export async function http(base: string, method: string, path: string, token: string | undefined, body?: unknown): Promise<HttpResult> {
  const headers: Record<string, string> = {};
  if (token) headers.authorization = `Bearer ${token}`;
  if (body !== undefined) headers["content-type"] = "application/json";
  const res = await fetch(`${base}${path}`, { method, headers, body: body === undefined ? null : JSON.stringify(body) });
  const text = await res.text();
  let json: Record<string, unknown> = {};
  try {
    json = text ? (JSON.parse(text) as Record<string, unknown>) : {};
  } catch {
    json = { raw: text };
  }
  return { status: res.status, json, headers: res.headers };
}

/** A TCP port that was free a moment ago on host. */
export function freePort(host = "127.0.0.1"): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once("error", reject);
    srv.listen(0, host, () => {
      const addr = srv.address();
      const port = typeof addr === "object" && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

/** Whether host:port can be bound right now. */
export function portIsFree(port: number, host = "127.0.0.1"): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.once("error", () => resolve(false));
    srv.listen(port, host, () => srv.close(() => resolve(true)));
  });
}

/**
 * Opens a SQLite data directory in this process (no server may be running on it) and hands a
 * PolicyService to fn: used to look at what a CLI command left behind.
 */
export async function withStore<T>(dataDir: string, fn: (svc: PolicyService) => Promise<T>): Promise<T> {
  const ds = await openDatastore({ dataDir });
  try {
    return await fn(new PolicyService(ds));
  } finally {
    await ds.close();
  }
}

export interface StoreSnapshot {
  id: string;
  name: string;
  tuples: number;
}

/** Every store in the data directory with its tuple count. */
export async function listStores(dataDir: string): Promise<StoreSnapshot[]> {
  return withStore(dataDir, async (svc) => {
    const out: StoreSnapshot[] = [];
    let token: string | undefined;
    do {
      const page = await svc.listStores(token ? { pageSize: 100, continuationToken: token } : { pageSize: 100 });
      for (const s of page.items) out.push({ id: s.id, name: s.name, tuples: (await readAllTuples(svc, s.id)).length });
      token = page.continuationToken;
    } while (token);
    return out;
  });
}

/** All tuples of a store as canonical JSON strings (sorted), conditions included. */
export async function readAllTuples(svc: PolicyService, storeId: string): Promise<string[]> {
  const out: string[] = [];
  let token: string | undefined;
  do {
    const page = await svc.read(storeId, {}, token ? { pageSize: 100, continuationToken: token } : { pageSize: 100 });
    for (const t of page.items) out.push(canonicalTuple(t.key as unknown as Record<string, unknown>));
    token = page.continuationToken;
  } while (token);
  return out.sort();
}

/** A copy of v with every object's keys sorted (for order-insensitive comparison). */
export function sortKeys(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(sortKeys);
  if (v && typeof v === "object") {
    return Object.fromEntries(
      Object.keys(v as Record<string, unknown>)
        .sort()
        .map((k) => [k, sortKeys((v as Record<string, unknown>)[k])]),
    );
  }
  return v;
}

export function canonicalTuple(t: Record<string, unknown>): string {
  const c = t.condition as { name?: string; context?: Record<string, unknown> } | undefined;
  const key: Record<string, unknown> = { object: t.object, relation: t.relation, user: t.user };
  if (c && c.name) key.condition = { name: c.name, context: c.context ?? {} };
  return JSON.stringify(sortKeys(key));
}

/** Lines of output without blank ones. */
export function lines(s: string): string[] {
  return s.split("\n").filter((l) => l.trim() !== "");
}
