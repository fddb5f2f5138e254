/**
 * `tenet client ...` and `tenet user ...`: the identity admin API from the command line. They
 * talk to a running server (not to the database) so that every change takes effect at once —
 * suspending a user revokes their live sessions — and is recorded in the audit log.
 *
 * Server: --server URL, else TENET_SERVER, else http://localhost:<configured port>.
 * Credential: --token T, else TENET_TOKEN, else the data directory's admin.token.
 */
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { loadConfig } from "../../config/config.js";
import type { Io } from "../main.js";
import { flagValue, hasFlag } from "./flags.js";

const CLIENT_USAGE = `usage:
  tenet client create --name NAME --redirect-uri URI [--redirect-uri URI ...] [--post-logout-uri URI]
                      [--public] [--grant authorization_code,refresh_token,client_credentials]
                      [--backchannel-logout-uri URI] [--id CLIENT_ID]
  tenet client list | get ID | delete ID | rotate-secret ID
  (common: --server URL --token T)
`;
const USER_USAGE = `usage:
  tenet user create --username NAME [--email E] [--name "Display Name"] [--manager ID]   (prints an invitation link)
  tenet user invite ID        a new one-time link to register a passkey
  tenet user list | get ID | suspend ID [--reason R] | reactivate ID | unlock ID | delete ID
  tenet user sessions ID | revoke-sessions ID
  (common: --server URL --token T)
`;

interface Api {
  call(method: string, path: string, body?: unknown): Promise<{ status: number; body: Record<string, unknown> | undefined }>;
}

async function api(args: string[]): Promise<Api> {
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

function all(args: string[], flag: string): string[] {
  const out: string[] = [];
  args.forEach((a, i) => {
    if (a === flag && args[i + 1] !== undefined) out.push(args[i + 1]!);
    else if (a.startsWith(`${flag}=`)) out.push(a.slice(flag.length + 1));
  });
  return out;
}

async function run(io: Io, p: Promise<{ status: number; body: Record<string, unknown> | undefined }>, ok: (b: Record<string, unknown> | undefined) => string): Promise<number> {
  const r = await p;
  if (r.status >= 400) {
    io.err(`error ${r.status}: ${String(r.body?.code ?? "")}: ${String(r.body?.message ?? "")}\n`);
    return 1;
  }
  io.out(ok(r.body));
  return 0;
}

const pretty = (b: unknown) => `${JSON.stringify(b, null, 2)}\n`;

/**
 * The frame both commands share: the API client, the subcommand and its id argument, errors
 * as one line, and the usage when `body` does not know the subcommand (undefined).
 */
async function adminCommand(
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

export function clientCommand(args: string[], io: Io): Promise<number> {
  return adminCommand("client", CLIENT_USAGE, args, io, async (sub, id, arg, a) => {
    switch (sub) {
      case "create": {
        const name = flagValue(args, "--name");
        if (!name) break;
        const body: Record<string, unknown> = {
          client_name: name,
          redirect_uris: all(args, "--redirect-uri"),
          post_logout_redirect_uris: all(args, "--post-logout-uri"),
          token_endpoint_auth_method: hasFlag(args, "--public") ? "none" : "client_secret_basic",
        };
        const grants = flagValue(args, "--grant");
        if (grants) body.grant_types = grants.split(",").map((g) => g.trim());
        const bcl = flagValue(args, "--backchannel-logout-uri");
        if (bcl) body.backchannel_logout_uri = bcl;
        const cid = flagValue(args, "--id");
        if (cid) body.client_id = cid;
        return await run(io, a.call("POST", "/identity/clients", body), (b) => {
          io.err(b?.client_secret ? "the client secret is shown once; store it now\n" : "a public client: it has no secret and must use PKCE\n");
          return pretty(b);
        });
      }
      case "list":
        return await run(io, a.call("GET", "/identity/clients"), (b) => ((b?.clients as Array<Record<string, unknown>>) ?? []).map((c) => `${String(c.client_id)}  ${String(c.token_endpoint_auth_method).padEnd(20)} ${String(c.client_name)}\n`).join(""));
      case "get":
        if (!id) break;
        return await run(io, a.call("GET", `/identity/clients/${id}`), pretty);
      case "delete":
        if (!id) break;
        return await run(io, a.call("DELETE", `/identity/clients/${id}`), () => `deleted ${arg}\n`);
      case "rotate-secret":
        if (!id) break;
        return await run(io, a.call("POST", `/identity/clients/${id}/secret`), pretty);
    }
    return undefined;
  });
}

export function userCommand(args: string[], io: Io): Promise<number> {
  return adminCommand("user", USER_USAGE, args, io, async (sub, id, arg, a) => {
    switch (sub) {
      case "create": {
        const username = flagValue(args, "--username");
        if (!username) break;
        const body: Record<string, unknown> = { username };
        for (const [flag, key] of [["--email", "email"], ["--name", "display_name"], ["--manager", "manager_id"], ["--id", "id"]] as const) {
          const v = flagValue(args, flag);
          if (v !== undefined) body[key] = v;
        }
        const created = await a.call("POST", "/identity/users", body);
        if (created.status >= 400) return await run(io, Promise.resolve(created), pretty);
        const uid = encodeURIComponent(String(created.body?.id));
        return await run(io, a.call("POST", `/identity/users/${uid}/invitations`, {}), (b) => `created user ${String(created.body?.id)}\ninvitation (one-time, until ${String(b?.expires_at)}):\n  ${String(b?.url)}\n`);
      }
      case "invite":
        if (!id) break;
        return await run(io, a.call("POST", `/identity/users/${id}/invitations`, {}), (b) => `${String(b?.url)}\n`);
      case "list":
        return await run(io, a.call("GET", "/identity/users"), (b) => ((b?.users as Array<Record<string, unknown>>) ?? []).map((u) => `${String(u.id).padEnd(28)} ${String(u.status).padEnd(10)} ${String(u.username)}${u.email ? ` <${String(u.email)}>` : ""}\n`).join(""));
      case "get":
        if (!id) break;
        return await run(io, a.call("GET", `/identity/users/${id}`), pretty);
      case "suspend": {
        if (!id) break;
        const reason = flagValue(args, "--reason");
        return await run(io, a.call("POST", `/identity/users/${id}/suspend`, reason ? { reason } : {}), () => `suspended ${arg}; their sessions were revoked\n`);
      }
      case "reactivate":
        if (!id) break;
        return await run(io, a.call("POST", `/identity/users/${id}/reactivate`), () => `reactivated ${arg}\n`);
      case "unlock":
        if (!id) break;
        return await run(io, a.call("POST", `/identity/users/${id}/unlock`, {}), (b) => (b?.unlocked ? `unlocked ${arg}\n` : `${arg} was not locked\n`));
      case "delete":
        if (!id) break;
        return await run(io, a.call("DELETE", `/identity/users/${id}`), () => `deleted ${arg}\n`);
      case "sessions":
        if (!id) break;
        return await run(io, a.call("GET", `/identity/sessions?user_id=${id}`), pretty);
      case "revoke-sessions":
        if (!id) break;
        return await run(io, a.call("POST", `/identity/users/${id}/sessions/revoke`), (b) => `revoked ${String(b?.revoked)} session(s)\n`);
    }
    return undefined;
  });
}
