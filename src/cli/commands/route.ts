/**
 * `tenet route ...`: the proxy's routes by API from the command line, on the same frame as
 * `tenet client` (admin-api.ts): through a running server, so a change reaches every replica's
 * proxy within seconds and is recorded in the audit log.
 */
import { readFile } from "node:fs/promises";
import type { Io } from "../main.js";
import { adminCommand, pretty, run } from "./admin-api.js";
import { flagValue } from "./flags.js";

const USAGE = `usage:
  tenet route list
  tenet route get ID
  tenet route put ID --file route.json [--version N]   create or replace (JSON or YAML, a route as in the access configuration)
  tenet route delete ID [--version N]
  (common: --server URL --token T)
`;

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

function line(r: Record<string, unknown>): string {
  const from = r.from as { host?: string; path?: string } | undefined;
  return `${String(r.id).padEnd(24)} ${String(r.source).padEnd(5)} ${`${from?.host ?? ""}${from?.path ?? ""}`.padEnd(40)} -> ${String(r.to)}\n`;
}

export function routeCommand(args: string[], io: Io): Promise<number> {
  return adminCommand("route", USAGE, args, io, async (sub, id, arg, a) => {
    switch (sub) {
      case "list":
        return run(io, a.call("GET", "/proxy/routes"), (b) => ((b?.routes as Array<Record<string, unknown>>) ?? []).map(line).join(""));
      case "get":
        return id ? run(io, a.call("GET", `/proxy/routes/${id}`), pretty) : undefined;
      case "put": {
        const file = flagValue(args, "--file");
        if (!id || !file) return undefined;
        const route = await readRoute(file);
        if (typeof route !== "object" || route === null || Array.isArray(route)) throw new Error(`${file}: a route must be an object (one entry of proxy.routes)`);
        const v = version(args);
        return run(io, a.call("PUT", `/proxy/routes/${id}`, { ...(route as Record<string, unknown>), ...(v !== undefined ? { version: v } : {}) }), pretty);
      }
      case "delete": {
        if (!id) return undefined;
        const v = version(args);
        return run(io, a.call("DELETE", `/proxy/routes/${id}${v !== undefined ? `?version=${v}` : ""}`), () => `deleted ${arg}\n`);
      }
      default:
        return undefined;
    }
  });
}
