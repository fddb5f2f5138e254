/**
 * Starts `tenet serve` as assemble.ts builds it (SQLite in a temporary directory), with the
 * identity provider on a free port of localhost, and an admin API key. Shared by the identity
 * end-to-end tests.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { assemble, type Assembled } from "../../../src/app/assemble.js";
import { parseAccessConfig } from "../../../src/config/access-config.js";
import { newApiKey } from "../../../src/identity/api-keys/api-key.js";
import type { Datastore } from "../../../src/storage/interfaces.js";
import { openDatastore } from "../../../src/storage/open.js";

export interface IdpServer {
  url: string;
  issuer: string;
  adminToken: string;
  parts: Assembled;
  ds: Datastore;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- tests read fields of JSON answers
  admin(method: string, path: string, body?: unknown): Promise<{ status: number; body: any }>;
  close(): Promise<void>;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const a = s.address();
      s.close(() => resolve(typeof a === "object" && a ? a.port : 0));
    });
  });
}

export async function startIdp(opts: { identity?: unknown; databaseUrl?: string | undefined; access?: (url: string, port: number) => Record<string, unknown> } = {}): Promise<IdpServer> {
  const dir = mkdtempSync(join(tmpdir(), "tenet-idp-"));
  const ds = await openDatastore(opts.databaseUrl ? { dataDir: dir, databaseUrl: opts.databaseUrl } : { dataDir: dir });
  const port = await freePort();
  const url = `http://localhost:${port}`;
  const parts = await assemble({
    ds,
    access: parseAccessConfig({ identity: opts.identity ?? {}, ...(opts.access?.(url, port) ?? {}) }),
    dataDir: dir,
    env: {},
    logLevel: "warn",
    authzen: { baseUrl: () => url },
    publicUrl: url,
    riskEngine: false,
  });
  await parts.app.listen({ host: "127.0.0.1", port });
  const { token, record } = newApiKey({ name: "admin", scopes: ["admin", "write", "read", "check"], stores: ["*"] });
  await ds.createApiKey(record);
  return {
    url,
    issuer: `${url}/oidc`,
    adminToken: token,
    parts,
    ds,
    async admin(method, path, body) {
      const headers: Record<string, string> = { authorization: `Bearer ${token}` };
      if (body !== undefined) headers["content-type"] = "application/json";
      const res = await fetch(`${url}${path}`, { method, headers, ...(body !== undefined ? { body: JSON.stringify(body) } : {}) });
      const text = await res.text();
      return { status: res.status, body: text ? JSON.parse(text) : undefined };
    },
    async close() {
      await parts.close();
      await ds.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
