/**
 * First start: Tenet's API admits no anonymous caller, so there must be an admin key. If none
 * exists, one is generated, printed once and written to `<data dir>/admin.token` (mode 0600).
 * `TENET_ADMIN_TOKEN` installs an operator-chosen key instead (useful for several replicas).
 */
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { type ApiKeysBackend, newApiKey, recordForToken } from "../../identity/api-keys/api-key.js";

export interface BootstrapResult {
  /** Set only when a key was generated now (to print once). */
  generatedToken?: string;
  tokenFile?: string;
}

export async function bootstrapAdminKey(keys: ApiKeysBackend, opts: { dataDir: string; adminToken?: string | undefined }): Promise<BootstrapResult> {
  if (opts.adminToken) {
    const r = recordForToken(opts.adminToken, { name: "admin (TENET_ADMIN_TOKEN)", scopes: ["admin"], stores: ["*"] });
    if (!r) throw new Error("TENET_ADMIN_TOKEN is not a Tenet API key");
    if (!(await keys.getApiKey(r.id))) {
      try {
        await keys.createApiKey(r.record);
      } catch (err) {
        // Replicas starting together race to install the same key: losing the race is fine.
        if (!(await keys.getApiKey(r.id))) throw err;
      }
    }
    return {};
  }
  const all = await keys.listApiKeys();
  if (all.some((k) => !k.revokedAt)) return {};
  const { token, record } = newApiKey({ name: "admin (bootstrap)", scopes: ["admin"], stores: ["*"] });
  await keys.createApiKey(record);
  await mkdir(opts.dataDir, { recursive: true, mode: 0o700 });
  const tokenFile = join(opts.dataDir, "admin.token");
  await writeFile(tokenFile, `${token}\n`, { mode: 0o600 });
  return { generatedToken: token, tokenFile };
}
