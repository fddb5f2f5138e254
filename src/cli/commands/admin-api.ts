/**
 * The frame of the CLI commands that drive a running server's admin API (`tenet client`, `tenet
 * user`, `tenet route`): they talk to the server, not to the database, so every change takes
 * effect at once on every replica and is recorded in the audit log with the credential that
 * made it.
 *
 * Server: --server URL, else TENET_SERVER, else http://localhost:<configured port>.
 * Credential: --token T, else TENET_TOKEN, else the data directory's admin.token.
 */
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { loadConfig } from "../../config/config.js";
import type { Io } from "../main.js";
import { flagValue } from "./flags.js";

export interface Api {
  call(method: string, path: string, body?: unknown): Promise<{ status: number; body: Record<string, unknown> | undefined }>;
}

export async function api(args: string[]): Promise<Api> {
  const config = loadConfig(process.env, flagValue(args, "--data-dir") ? { dataDir: flagValue(args, "--data-dir")! } : {});
  const server = (flagValue(args, "--server") ?? process.env.TENET_SERVER ?? `http://localhost:${config.port}`).replace(/\/+$/, "");
  let token = flagValue(args, "--token") ?? process.env.TENET_TOKEN;
  if (!token) token = (await readFile(join(config.dataDir, "admin.token"), "utf8").catch(() => "")).trim() || undefined;
  if (!token) throw new Error("no credential: pass --token, set TENET_TOKEN, or run where the server's admin.token is readable");
  return {
    async call(method, path, body) {
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
    },
  };
}

export async function run(io: Io, p: Promise<{ status: number; body: Record<string, unknown> | undefined }>, ok: (b: Record<string, unknown> | undefined) => string): Promise<number> {
  const r = await p;
  if (r.status >= 400) {
    io.err(`error ${r.status}: ${String(r.body?.code ?? "")}: ${String(r.body?.message ?? "")}\n`);
    return 1;
  }
  io.out(ok(r.body));
  return 0;
}

export const pretty = (b: unknown) => `${JSON.stringify(b, null, 2)}\n`;

/**
 * The frame both commands share: the API client, the subcommand and its id argument, errors
 * as one line, and the usage when `body` does not know the subcommand (undefined).
 */
export async function adminCommand(
  name: string,
  usage: string,
  args: string[],
  io: Io,
  body: (sub: string | undefined, id: string | undefined, arg: string | undefined, a: Api) => Promise<number | undefined>,
): Promise<number> {
  const [sub, arg] = args;
  const id = arg && !arg.startsWith("--") ? encodeURIComponent(arg) : undefined;
  try {
    const code = await body(sub, id, arg, await api(args));
    if (code !== undefined) return code;
  } catch (err) {
    io.err(`tenet ${name}: ${(err as Error).message}\n`);
    return 1;
  }
  io.err(usage);
  return 2;
}
