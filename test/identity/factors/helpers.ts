/**
 * A real SQLite datastore in a temporary directory, a random master key, an identity event bus
 * that remembers what it carried, a clock the test moves, and a view of the documents backend
 * that counts reads and writes (to show that malformed input touches no storage).
 */
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { MasterKey } from "../../../src/crypto/master-key.js";
import { IdentityEvents, type IdentityEvent } from "../../../src/identity/events.js";
import type { Datastore, DocumentsBackend } from "../../../src/storage/interfaces.js";
import { openDatastore } from "../../../src/storage/open.js";

/** On a 30-second step boundary plus 10 s, so ±15 s never crosses a step by accident. */
export const T0 = Date.parse("2026-03-02T09:00:10.000Z");

export interface Fixture {
  ds: Datastore;
  /** `ds` as a DocumentsBackend, counting calls. */
  documents: DocumentsBackend;
  calls: { count: number };
  masterKey: MasterKey;
  events: IdentityEvents;
  emitted: IdentityEvent[];
  clock: { now: number };
  now: () => number;
  close(): Promise<void>;
}

export async function setup(prefix: string): Promise<Fixture> {
  const dir = mkdtempSync(join(tmpdir(), `tenet-${prefix}-test-`));
  const ds = await openDatastore({ dataDir: dir });
  const calls = { count: 0 };
  const documents: DocumentsBackend = {
    getDocument<T>(c: string, id: string) {
      calls.count++;
      return ds.getDocument<T>(c, id);
    },
    putDocument(c, id, body, v) {
      calls.count++;
      return ds.putDocument(c, id, body, v);
    },
    listDocuments<T>(c: string, o?: { prefix?: string; after?: string; limit?: number }) {
      calls.count++;
      return ds.listDocuments<T>(c, o);
    },
    deleteDocument(c, id) {
      calls.count++;
      return ds.deleteDocument(c, id);
    },
  };
  const emitted: IdentityEvent[] = [];
  const events = new IdentityEvents();
  events.on((e) => {
    emitted.push(e);
  });
  const clock = { now: T0 };
  return {
    ds,
    documents,
    calls,
    masterKey: MasterKey.fromBytes(randomBytes(32)),
    events,
    emitted,
    clock,
    now: () => clock.now,
    close: async () => {
      await ds.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
