/** Shared pieces of the device tests: real datastores, real device keys, signed reports. */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { exportJWK, generateKeyPair, type CryptoKey, type JWK } from "jose";
import type { IdentityEvent } from "../../../src/identity/events.js";
import { IdentityEvents } from "../../../src/identity/events.js";
import type { Posture } from "../../../src/identity/devices/posture.js";
import { signPostureReport } from "../../../src/identity/devices/signature.js";
import type { DeviceAlg } from "../../../src/identity/devices/types.js";
import { PostgresDatastore } from "../../../src/storage/postgres/postgres-datastore.js";
import type { Datastore } from "../../../src/storage/interfaces.js";
import { openDatastore } from "../../../src/storage/open.js";
import { PG_SKIP, PG_URL, createTestSchema, dropTestSchema } from "../../storage/pg-test-schema.js";

export interface TestStore {
  ds: Datastore;
  close(): Promise<void>;
}

/** A fresh SQLite datastore in a temporary directory. */
export async function sqliteStore(): Promise<TestStore> {
  const dir = mkdtempSync(join(tmpdir(), "tenet-devices-"));
  const ds = await openDatastore({ dataDir: dir });
  return {
    ds,
    close: async () => {
      await ds.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** A fresh PostgreSQL schema (only when TENET_TEST_DATABASE_URL is set). */
export async function postgresStore(): Promise<TestStore> {
  const schema = await createTestSchema();
  const ds = await PostgresDatastore.open({ connectionString: PG_URL!, schema });
  return {
    ds,
    close: async () => {
      await ds.close();
      await dropTestSchema(schema);
    },
  };
}

/** The backends the storage-level suites run on: SQLite always, PostgreSQL when configured. */
export const BACKENDS: Array<{ name: string; open: () => Promise<TestStore>; skip: string | undefined }> = [
  { name: "SQLite", open: sqliteStore, skip: undefined },
  { name: "PostgreSQL", open: postgresStore, skip: PG_SKIP },
];

export interface TestDeviceKey {
  alg: DeviceAlg;
  privateKey: CryptoKey;
  publicJwk: JWK;
}

export async function deviceKey(alg: DeviceAlg = "ES256"): Promise<TestDeviceKey> {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true });
  return { alg, privateKey, publicJwk: await exportJWK(publicKey) };
}

export function posture(over: Partial<Posture> = {}, at = Date.now()): Posture {
  return {
    os: { name: "debian", version: "12" },
    diskEncryption: "on",
    screenLock: "unknown",
    firewall: "on",
    managed: "unknown",
    collectedAt: new Date(at).toISOString(),
    ...over,
  };
}

/** A report signed by `key` for `deviceId`, issued at `at` (ms) unless `iat` says otherwise. */
export function report(key: TestDeviceKey, deviceId: string, p: Posture, opts: { iat?: number; jti?: string; typ?: string; at?: number } = {}): Promise<string> {
  return signPostureReport(key.privateKey, {
    deviceId,
    alg: key.alg,
    posture: p,
    iat: opts.iat ?? Math.floor((opts.at ?? Date.now()) / 1000),
    ...(opts.jti !== undefined ? { jti: opts.jti } : {}),
    ...(opts.typ !== undefined ? { typ: opts.typ } : {}),
  });
}

/** An event bus that records what it carried. */
export function recordingEvents(): { events: IdentityEvents; seen: IdentityEvent[] } {
  const events = new IdentityEvents();
  const seen: IdentityEvent[] = [];
  events.on((e) => {
    seen.push(e);
  });
  return { events, seen };
}

/** A settable clock. */
export function clock(start = Date.parse("2026-03-02T10:00:00Z")) {
  let t = start;
  return {
    now: () => t,
    set: (ms: number) => {
      t = ms;
    },
    advance: (ms: number) => {
      t += ms;
    },
  };
}
