/**
 * Real parts for the assertion tests: the identity provider's SigningKeys over a SQLite file in a
 * temporary directory, sealed with a random master key, and its public JWKS served by a node:http
 * server at `<issuer>/oidc/jwks` (as `tenet serve` publishes it).
 */
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { MasterKey } from "../../src/crypto/master-key.js";
import { SigningKeys } from "../../src/identity/oidc/keys.js";
import type { Datastore } from "../../src/storage/interfaces.js";
import { openDatastore } from "../../src/storage/open.js";

const PRIVATE_MEMBERS = ["d", "p", "q", "dp", "dq", "qi"];

export interface AssertionFixture {
  keys: SigningKeys;
  ds: Datastore;
  /** Tenet's public URL (`http://127.0.0.1:<port>`); the JWKS is at `${issuer}/oidc/jwks`. */
  issuer: string;
  jwksUri: string;
  /** JWKS requests served so far. */
  jwksHits: number;
  /** When set, the JWKS endpoint answers with this status and no keys. */
  failWith: number | undefined;
  close(): Promise<void>;
}

/** The public JWKS: the provider's key set without the private members (RFC 7518 §6.2.2, §6.3.2). */
export async function publicJwks(keys: SigningKeys): Promise<{ keys: Array<Record<string, unknown>> }> {
  const { keys: all } = await keys.privateJwks();
  return { keys: all.map((k) => Object.fromEntries(Object.entries(k).filter(([name]) => !PRIVATE_MEMBERS.includes(name)))) };
}

export async function startFixture(): Promise<AssertionFixture> {
  const dir = mkdtempSync(join(tmpdir(), "tenet-assertion-"));
  const ds = await openDatastore({ dataDir: dir });
  const keys = new SigningKeys(ds, MasterKey.fromBytes(randomBytes(32)));
  await keys.ensure();
  const server: Server = createServer((req, res) => {
    if (req.method !== "GET" || req.url !== "/oidc/jwks") {
      res.writeHead(404).end();
      return;
    }
    fixture.jwksHits++;
    if (fixture.failWith !== undefined) {
      res.writeHead(fixture.failWith, { "content-type": "text/plain" }).end("unavailable");
      return;
    }
    publicJwks(keys).then(
      (jwks) => res.writeHead(200, { "content-type": "application/jwk-set+json" }).end(JSON.stringify(jwks)),
      () => res.writeHead(500).end(),
    );
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const fixture: AssertionFixture = {
    keys,
    ds,
    issuer,
    jwksUri: `${issuer}/oidc/jwks`,
    jwksHits: 0,
    failWith: undefined,
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await ds.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
  return fixture;
}

/** A local port nothing listens on (bound, then released). */
export async function deadUrl(): Promise<string> {
  const s = createServer();
  await new Promise<void>((resolve) => s.listen(0, "127.0.0.1", resolve));
  const port = (s.address() as AddressInfo).port;
  await new Promise<void>((resolve) => s.close(() => resolve()));
  return `http://127.0.0.1:${port}`;
}
