/**
 * `tenet token create|list|revoke`: API keys for Tenet's own API. A created key is printed once;
 * only its hash is stored.
 */
import { newApiKey, SCOPES, type Scope } from "../../identity/api-keys/api-key.js";
import type { Io } from "../main.js";
import { flagValue } from "./flags.js";
import { openConfigured } from "./open-storage.js";

const USAGE = `usage:
  tenet token create --name NAME [--scopes check,read,write,admin] [--stores ID,ID|*] [--rate-limit N]
  tenet token list
  tenet token revoke ID
`;

export async function tokenCommand(args: string[], io: Io): Promise<number> {
  const [sub, arg] = args;
  if (sub !== "create" && sub !== "list" && sub !== "revoke") {
    io.err(USAGE);
    return 2;
  }
  let create: { name: string; scopes: Scope[]; stores: string[]; rateLimit: number } | undefined;
  if (sub === "create") {
    const name = flagValue(args, "--name");
    const scopes = (flagValue(args, "--scopes") ?? "check").split(",").map((s) => s.trim());
    const stores = (flagValue(args, "--stores") ?? "*").split(",").map((s) => s.trim());
    const rateLimit = Number(flagValue(args, "--rate-limit") ?? 0);
    const bad = scopes.filter((s) => !(SCOPES as readonly string[]).includes(s));
    if (!name || bad.length || !Number.isInteger(rateLimit) || rateLimit < 0 || stores.some((s) => s !== "*" && !/^[0-7][0-9A-HJKMNP-TV-Z]{25}$/.test(s))) {
      io.err(bad.length ? `unknown scope(s): ${bad.join(", ")} (allowed: ${SCOPES.join(", ")})\n` : USAGE);
      return 2;
    }
    create = { name, scopes: scopes as Scope[], stores, rateLimit };
  }
  if (sub === "revoke" && !arg) {
    io.err(USAGE);
    return 2;
  }
  const opened = await openConfigured(args, io, `token ${sub}`);
  if (!opened) return 1;
  const ds = opened.ds;
  try {
    if (create) {
      const { token, record } = newApiKey(create);
      await ds.createApiKey(record);
      io.out(`${token}\n`);
      io.err(`created key ${record.id} (${create.scopes.join(",")} on ${create.stores.join(",")}); it is shown once\n`);
    } else if (sub === "list") {
      for (const k of await ds.listApiKeys()) {
        io.out(`${k.id}  ${k.revokedAt ? "revoked" : "active "}  ${k.scopes.join(",").padEnd(22)} stores=${k.stores.join(",")}  ${k.name}  created ${k.createdAt}\n`);
      }
    } else {
      const ok = await ds.revokeApiKey(arg!, new Date().toISOString());
      if (!ok) {
        io.err(`no active key with id ${arg}\n`);
        return 1;
      }
      io.out(`revoked ${arg}\n`);
    }
    return 0;
  } finally {
    await ds.close();
  }
}
