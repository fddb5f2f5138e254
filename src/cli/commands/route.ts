/**
 * `tenet route ...`: the proxy's routes by API from the command line. Like `tenet client`, it
 * talks to a running server (not to the database), so a change reaches every replica's proxy
 * within seconds and is recorded in the audit log with the credential that made it.
 *
 * Server: --server URL, else TENET_SERVER, else http://localhost:<configured port>.
 * Credential: --token T, else TENET_TOKEN, else the data directory's admin.token.
 */
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { loadConfig } from "../../config/config.js";
import type { Io } from "../main.js";
import { flagValue } from "./flags.js";

const USAGE = `usage:
  tenet route list
  tenet route get ID
  tenet route put ID --file route.json [--version N]   create or replace (JSON or YAML, a route as in the access configuration)
  tenet route delete ID [--version N]
  (common: --server URL --token T)
`;

type Reply = { status: number; body: Record<string, unknown> | undefined };

async function connect(args: string[]): Promise<(method: string, path: string, body?: unknown) => Promise<Reply>> {
  const config = loadConfig(process.env, flagValue(args, "--data-dir") ? { dataDir: flagValue(args, "--data-dir")! } : {});
  const server = (flagValue(args, "--server") ?? process.env.TENET_SERVER ?? `http://localhost:${config.port}`).replace(/\/+$/, "");
  let token = flagValue(args, "--token") ?? process.env.TENET_TOKEN;
  if (!token) token = (await readFile(join(config.dataDir, "admin.token"), "utf8").catch(() => "")).trim() || undefined;
  if (!token) throw new Error("no credential: pass --token, set TENET_TOKEN, or run where the server's admin.token is readable");
  return async (method, path, body) => {
    const headers: Record<string, string> = { authorization: `Bearer ${token}` };
    if (body !== undefined) headers["content-type"] = "application/json";
    let res: Response;
    try {
      res = await fetch(`${server}${path}`, { method, headers, ...(body !== undefined ? { body: JSON.stringify(body) } : {}), signal: AbortSignal.timeout(15_000) });
    } catch (err) {
      throw new Error(`cannot reach ${server}: ${(err as Error).message}`);
    }
    const text = await res.text();
    return { status: res.status, body: text ? (JSON.parse(text) as Record<string, unknown>) : undefined };
  };
}

/** A route file: JSON, or YAML (the access configuration's own format). */
async function readRoute(file: string): Promise<unknown> {
  const text = await readFile(file, "utf8");
  try {
    return JSON.parse(text);
  } catch {
    const { parse } = await import("yaml");
    return parse(text) as unknown;
  }
}

function version(args: string[]): number | undefined {
  const v = flagValue(args, "--version");
  if (v === undefined) return undefined;
  if (!/^\d{1,9}$/.test(v)) throw new Error(`--version must be a whole number, not '${v}'`);
  return Number(v);
}

const pretty = (b: unknown) => `${JSON.stringify(b, null, 2)}\n`;

function line(r: Record<string, unknown>): string {
  const from = r.from as { host?: string; path?: string } | undefined;
  return `${String(r.id).padEnd(24)} ${String(r.source).padEnd(5)} ${`${from?.host ?? ""}${from?.path ?? ""}`.padEnd(40)} -> ${String(r.to)}\n`;
}

export async function routeCommand(args: string[], io: Io): Promise<number> {
  const [sub, arg] = args;
  const id = arg && !arg.startsWith("--") ? encodeURIComponent(arg) : undefined;
  const show = async (p: Promise<Reply>, ok: (b: Record<string, unknown> | undefined) => string): Promise<number> => {
    const r = await p;
    if (r.status >= 400) {
      io.err(`error ${r.status}: ${String(r.body?.code ?? "")}: ${String(r.body?.message ?? "")}\n`);
      return 1;
    }
    io.out(ok(r.body));
    return 0;
  };
  try {
    switch (sub) {
      case "list": {
        const call = await connect(args);
        return await show(call("GET", "/proxy/routes"), (b) => ((b?.routes as Array<Record<string, unknown>>) ?? []).map(line).join(""));
      }
      case "get":
        if (!id) break;
        return await show((await connect(args))("GET", `/proxy/routes/${id}`), pretty);
      case "put": {
        const file = flagValue(args, "--file");
        if (!id || !file) break;
        const route = await readRoute(file);
        if (typeof route !== "object" || route === null || Array.isArray(route)) throw new Error(`${file}: a route must be an object (one entry of proxy.routes)`);
        const v = version(args);
        const body = { ...(route as Record<string, unknown>), ...(v !== undefined ? { version: v } : {}) };
        return await show((await connect(args))("PUT", `/proxy/routes/${id}`, body), pretty);
      }
      case "delete": {
        if (!id) break;
        const v = version(args);
        return await show((await connect(args))("DELETE", `/proxy/routes/${id}${v !== undefined ? `?version=${v}` : ""}`), () => `deleted ${arg}\n`);
      }
    }
  } catch (err) {
    io.err(`tenet route: ${(err as Error).message}\n`);
    return 1;
  }
  io.err(USAGE);
  return 2;
}
