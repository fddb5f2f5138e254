/**
 * `tenet client ...` and `tenet user ...`: the identity admin API from the command line. They
 * talk to a running server (not to the database) so that every change takes effect at once —
 * suspending a user revokes their live sessions — and is recorded in the audit log.
 *
 * Server: --server URL, else TENET_SERVER, else http://localhost:<configured port>.
 * Credential: --token T, else TENET_TOKEN, else the data directory's admin.token.
 */
import type { Io } from "../main.js";
import { adminCommand, pretty, run } from "./admin-api.js";
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

function all(args: string[], flag: string): string[] {
  const out: string[] = [];
  args.forEach((a, i) => {
    if (a === flag && args[i + 1] !== undefined) out.push(args[i + 1]!);
    else if (a.startsWith(`${flag}=`)) out.push(a.slice(flag.length + 1));
  });
  return out;
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
