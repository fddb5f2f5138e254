/**
 * The audit log end to end over real storage (SQLite files, the PostgreSQL server): group
 * commit, signed checkpoints, proofs that verify with the RFC 9162 algorithms, `verify` finding
 * every kind of tampering done directly in the database tables, failing closed when the table
 * cannot be written (and recovering), refusing rows it did not write, and pruning that keeps the
 * rest verifiable.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import Database from "better-sqlite3";
import { changeEvent, decisionEvent, type AuditEventInput } from "../../src/audit/events.js";
import { signCheckpoint, verifyCheckpoint } from "../../src/audit/checkpoint.js";
import { AuditLog } from "../../src/audit/log.js";
import { leafHash, verifyConsistency, verifyInclusion } from "../../src/audit/merkle.js";
import { ed25519Signer, ed25519VerifierKey } from "../../src/audit/signed-note.js";
import { AuditWriterThread } from "../../src/audit/sqlite-writer-thread.js";
import { openAuditPlane, type AuditPlane } from "../../src/audit/setup.js";
import { verifyAuditLog } from "../../src/audit/verify.js";
import { TenetError } from "../../src/errors.js";
import type { AuditBackend, Datastore } from "../../src/storage/interfaces.js";
import { openDatastore } from "../../src/storage/open.js";
import { PostgresDatastore } from "../../src/storage/postgres/postgres-datastore.js";
import { adminQuery, createTestSchema, dropTestSchema, PG_SKIP, PG_URL } from "../storage/pg-test-schema.js";

const dirs: string[] = [];
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), "tenet-audit-"));
  dirs.push(d);
  return d;
}

const MASTER = Buffer.alloc(32, 7).toString("base64");

function decision(i: number): AuditEventInput {
  return decisionEvent(
    {
      decision: i % 3 === 0 ? "deny" : "allow",
      decisionId: `d-${i}`,
      storeId: "01JSTORE0000000000000000000",
      subject: { id: `user:u${i % 10}` },
      resource: { type: "document", id: `doc-${i}` },
      action: "viewer",
      policyVersion: 1,
      rules: [{ policy: "docs", rule: "view", effect: "allow", outcome: "matched" }],
      risk: { score: 10, level: "low", reasons: [] },
      reasons: ["allowed by docs/view"],
      via: "test",
      context: { token: "secret-value" },
    },
    undefined,
  );
}

interface Opened {
  ds: Datastore;
  plane: AuditPlane;
  dir: string;
  reopen(): Promise<Opened>;
  tamper(sql: string, values?: unknown[]): Promise<void>;
  close(): Promise<void>;
}

async function sqlite(opts: { checkpointEvery?: number } = {}): Promise<Opened> {
  const dir = tempDir();
  const open = async (): Promise<Opened> => {
    const ds = await openDatastore({ dataDir: dir });
    const plane = await openAuditPlane(ds, { dataDir: dir, env: { TENET_MASTER_KEY: MASTER }, checkpointEvery: opts.checkpointEvery ?? 10 });
    return {
      ds,
      plane,
      dir,
      reopen: async () => open(),
      tamper: async (sql, values = []) => {
        const db = new Database(join(dir, "tenet.db"));
        try {
          db.prepare(sql).run(...(values as unknown[]));
        } finally {
          db.close();
        }
      },
      close: async () => {
        await plane.close();
        await ds.close();
      },
    };
  };
  return open();
}

async function postgres(opts: { checkpointEvery?: number } = {}): Promise<Opened & { schema: string }> {
  const schema = await createTestSchema();
  const dir = tempDir();
  const open = async (): Promise<Opened & { schema: string }> => {
    const ds = await PostgresDatastore.open({ connectionString: PG_URL!, schema });
    const plane = await openAuditPlane(ds, { dataDir: dir, env: { TENET_MASTER_KEY: MASTER }, checkpointEvery: opts.checkpointEvery ?? 10 });
    return {
      ds,
      plane,
      dir,
      schema,
      reopen: async () => open(),
      tamper: async (sql, values = []) => {
        await adminQuery(sql.replace(/\?/g, (() => { let i = 0; return () => `$${++i}`; })()), values, schema);
      },
      close: async () => {
        await plane.close();
        await ds.close();
      },
    };
  };
  return open();
}

async function fill(o: Opened, n: number): Promise<void> {
  // All at once: the log batches them.
  await Promise.all(Array.from({ length: n }, (_, i) => o.plane.log.append(decision(i))));
  await o.plane.log.checkpointNow();
}

describe("audit log (SQLite)", () => {
  test("group commit, checkpoints, proofs that verify, and a clean verify", async () => {
    const o = await sqlite({ checkpointEvery: 100 });
    try {
      const results = await Promise.all(Array.from({ length: 1000 }, (_, i) => o.plane.log.append(decision(i))));
      assert.deepEqual(
        results.map((r) => r.seq),
        Array.from({ length: 1000 }, (_, i) => i),
        "consecutive sequence numbers in append order",
      );
      const status = o.plane.log.status();
      assert.ok(status.batches < 100, `1000 events in ${status.batches} transactions (group commit)`);
      await o.plane.log.checkpointNow();
      const cp = o.plane.log.checkpoint!;
      assert.equal(cp.size, 1000);
      const signed = o.plane.verifyNote(cp.note);
      assert.equal(signed.size, 1000);

      // Inclusion of entry 123 in the signed tree, checked with RFC 9162's algorithm.
      const [row] = await o.ds.readAudit(123, 1);
      assert.deepEqual(Buffer.from(row!.leafHash), leafHash(Buffer.from(row!.event)));
      assert.ok(verifyInclusion(123, 1000, row!.leafHash, o.plane.log.inclusionProof(123, 1000), signed.rootHash));
      assert.ok(!verifyInclusion(124, 1000, row!.leafHash, o.plane.log.inclusionProof(123, 1000), signed.rootHash));
      // Consistency between two checkpoints.
      const [c1] = await o.ds.listAuditCheckpoints(300, 1);
      assert.ok(c1 && c1.size >= 300 && c1.size < 1000);
      assert.ok(verifyConsistency(c1.size, 1000, c1.rootHash, signed.rootHash, o.plane.log.consistencyProof(c1.size, 1000)));

      // Sensitive context is an HMAC, never in clear.
      assert.doesNotMatch(row!.event, /secret-value/);
      const report = await verifyAuditLog(o.ds, o.plane.verifyNote);
      assert.equal(report.ok, true, JSON.stringify(report.problems));
      assert.equal(report.entries, 1000);
      assert.equal(report.verifiedSize, 1000);
      assert.equal(report.unsignedTail, 0);
    } finally {
      await o.close();
    }
  });

  test("verify names a modified event, a re-hashed modification's range, a removed entry and reordered entries", async () => {
    const o = await sqlite();
    await fill(o, 60);
    await o.close();

    // 1. Content changed, leaf hash left alone.
    await o.tamper(`UPDATE audit_entries SET event = replace(event, '"decision":"deny"', '"decision":"allow"') WHERE seq = 12`);
    const reopened1 = await openDatastore({ dataDir: o.dir });
    let r = await verifyAuditLog(reopened1, (await o.reopen()).plane.verifyNote);
    await reopened1.close();
    assert.equal(r.ok, false);
    assert.ok(r.problems.some((p) => p.kind === "modified" && p.seq === 12), JSON.stringify(r.problems));

    // 2. Content changed and the leaf hash recomputed: the checkpoint covering it no longer matches.
    const o2 = await sqlite();
    await fill(o2, 60);
    const plane2 = o2.plane;
    await o2.close();
    const [row] = await (async () => {
      const ds = await openDatastore({ dataDir: o2.dir });
      try {
        return await ds.readAudit(25, 1);
      } finally {
        await ds.close();
      }
    })();
    const forged = row!.event.replace('"decision":"allow"', '"decision":"deny"');
    assert.notEqual(forged, row!.event);
    await o2.tamper(`UPDATE audit_entries SET event = ?, leaf_hash = ? WHERE seq = 25`, [forged, leafHash(Buffer.from(forged))]);
    const ds2 = await openDatastore({ dataDir: o2.dir });
    r = await verifyAuditLog(ds2, plane2.verifyNote);
    await ds2.close();
    assert.equal(r.ok, false);
    const mismatch = r.problems.find((p) => p.kind === "checkpoint_mismatch");
    assert.ok(mismatch, JSON.stringify(r.problems));
    assert.ok(mismatch.seq! <= 25 && 25 < mismatch.endSeq!, `the reported range [${mismatch.seq}, ${mismatch.endSeq}) holds entry 25`);
    assert.equal(r.verifiedSize, 20, "checkpoints up to 20 still verify");

    // 3. A removed entry, and 4. two entries swapped (events and hashes together).
    const o3 = await sqlite();
    await fill(o3, 40);
    const plane3 = o3.plane;
    await o3.close();
    await o3.tamper(`DELETE FROM audit_entries WHERE seq = 7`);
    await o3.tamper(`UPDATE audit_entries SET seq = -1 WHERE seq = 30`);
    await o3.tamper(`UPDATE audit_entries SET seq = 30 WHERE seq = 31`);
    await o3.tamper(`UPDATE audit_entries SET seq = 31 WHERE seq = -1`);
    const ds3 = await openDatastore({ dataDir: o3.dir });
    r = await verifyAuditLog(ds3, plane3.verifyNote);
    await ds3.close();
    assert.ok(r.problems.some((p) => p.kind === "removed" && p.seq === 7 && p.endSeq === 8), JSON.stringify(r.problems));
    assert.ok(r.problems.some((p) => p.kind === "inserted_or_reordered" && p.seq === 30));
    assert.ok(r.problems.some((p) => p.kind === "inserted_or_reordered" && p.seq === 31));
  });

  test("a forged checkpoint, and entries cut from the end, are reported", async () => {
    const o = await sqlite();
    await fill(o, 30);
    const plane = o.plane;
    await o.close();
    await o.tamper(`UPDATE audit_checkpoints SET note = replace(note, char(10) || '20' || char(10), char(10) || '21' || char(10)) WHERE size = 20`);
    await o.tamper(`DELETE FROM audit_entries WHERE seq >= 25`);
    const ds = await openDatastore({ dataDir: o.dir });
    const r = await verifyAuditLog(ds, plane.verifyNote);
    await ds.close();
    assert.ok(r.problems.some((p) => p.kind === "bad_checkpoint" && p.checkpointSize === 20), JSON.stringify(r.problems));
    assert.ok(r.problems.some((p) => p.kind === "count_mismatch"), "a checkpoint signs 30 entries but 25 remain");
  });

  test("fails closed when the table cannot be written, then recovers; refuses rows it did not write", async () => {
    const o = await sqlite();
    try {
      await fill(o, 5);
      await o.tamper(`ALTER TABLE audit_entries RENAME TO audit_entries_away`);
      await assert.rejects(o.plane.log.append(decision(100)), (err: unknown) => err instanceof TenetError && err.code === "audit_unavailable");
      assert.equal(o.plane.log.status().healthy, false);
      await o.tamper(`ALTER TABLE audit_entries_away RENAME TO audit_entries`);
      const ok = await o.plane.log.append(decision(101));
      assert.equal(ok.seq, 5, "nothing was stored for the failed append; the next entry takes its place");
      assert.equal(o.plane.log.status().healthy, true);

      // A row slipped in behind the log's back: the next append conflicts and the log stays failed.
      const [last] = await o.ds.readAudit(5, 1);
      await o.tamper(`INSERT INTO audit_entries (seq, time, type, class_uid, event, leaf_hash) VALUES (6, ?, 'access.decision', 6003, ?, ?)`, [last!.time, '{"forged":true}', leafHash(Buffer.from('{"forged":true}'))]);
      await assert.rejects(o.plane.log.append(decision(102)));
      await assert.rejects(o.plane.log.append(decision(103)), /did not write/);
    } finally {
      await o.close().catch(() => undefined);
    }
  });

  // Two batches are in storage's hands at once (pipelining): the first one's failure must take
  // down the one behind it, or, when the first landed after all, the log must accept both.
  for (const [mode, landed] of [["rows", false], ["rows", true], ["events", false], ["events", true]] as const) {
    test(`a failed batch with the next one already sent (${mode === "rows" ? "rows built here" : "rows built on the writer thread"}; ${landed ? "it landed after all" : "nothing stored"}): no gap, no fork, appends continue`, async () => {
      const dir = tempDir();
      const ds = await openDatastore({ dataDir: dir });
      const { generateKeyPairSync } = await import("node:crypto");
      const { privateKey, publicKey } = generateKeyPairSync("ed25519");
      const signer = ed25519Signer("tenet/test", privateKey);
      const verifier = ed25519VerifierKey("tenet/test", publicKey);
      const thread = mode === "events" ? new AuditWriterThread(ds, join(dir, "tenet.db")) : undefined;
      const method = mode === "events" ? "appendAuditEvents" : "appendAudit";
      const real: Record<string, (...a: unknown[]) => Promise<unknown>> = (thread ?? ds) as never;
      let calls = 0;
      // The second batch fails only after the third was sent (optionally after it was stored).
      const faulty = new Proxy(real, {
        get(target, prop, receiver) {
          if (prop !== method) return Reflect.get(target, prop, receiver);
          return async (...args: unknown[]) => {
            const call = ++calls;
            if (call !== 2) return target[method]!.apply(target, args);
            if (landed) await target[method]!.apply(target, args);
            await new Promise((r) => setTimeout(r, 30));
            throw new Error("injected failure");
          };
        },
      });
      const log = await AuditLog.open({
        backend: faulty as unknown as AuditBackend,
        eventWriter: thread ? (faulty as unknown as AuditWriterThread) : undefined,
        signer: { sign: ({ size, rootHash }) => signCheckpoint({ origin: "tenet/test", size, rootHash }, signer) },
        maxBatch: 10,
        checkpointEvery: 5,
      });
      try {
        const outcomes = await Promise.allSettled(Array.from({ length: 40 }, (_, i) => log.append(decision(i))));
        const failed = outcomes.flatMap((o, i) => (o.status === "rejected" ? [i] : []));
        assert.ok(calls >= 3, `${calls} batches`);
        // The injected batch failed; so did whatever was sent behind it, unless it landed on top.
        assert.ok(failed.length >= 5, `failed: ${failed.join(",")}`);
        for (const o of outcomes) if (o.status === "rejected") assert.ok(o.reason instanceof TenetError && o.reason.code === "audit_unavailable");
        const ok = outcomes.flatMap((o) => (o.status === "fulfilled" ? [o.value.seq] : []));
        assert.equal(new Set(ok).size, ok.length, "no seq given twice");
        const next = await log.append(decision(100));
        const stored = await ds.readAudit(0, 1000);
        assert.deepEqual(stored.map((r) => r.seq), Array.from({ length: stored.length }, (_, i) => i), "no gap");
        assert.equal(next.seq, stored.length - 1);
        for (const seq of ok) assert.ok(seq < stored.length, `answered seq ${seq} is stored`);
        if (!landed) assert.equal(stored.length, ok.length + 1, "only answered entries (and the last) are stored");
        await log.checkpointNow();
        const report = await verifyAuditLog(ds, (note) => verifyCheckpoint(note, verifier, { origin: "tenet/test" }));
        assert.deepEqual(report.problems, []);
        assert.ok(report.ok);
      } finally {
        await log.close();
        await thread?.close();
        await ds.close();
      }
    });
  }

  test("a steady stream of appends does not starve the event loop (timers still run)", { timeout: 20_000 }, async () => {
    const o = await sqlite({ checkpointEvery: 50 });
    try {
      let stop = false;
      let appended = 0;
      let flowing!: () => void;
      const steady = new Promise<void>((r) => (flowing = r));
      // Each caller appends again the moment its append resolves: no I/O in between.
      const caller = async () => {
        while (!stop) {
          await o.plane.log.append(decision(appended++));
          if (appended >= 1000) flowing();
        }
      };
      const callers = Array.from({ length: 64 }, caller);
      await steady;
      const before = appended;
      const fired = await new Promise<number>((resolve) => {
        const start = Date.now();
        setTimeout(() => resolve(Date.now() - start), 50);
      });
      const during = appended - before;
      stop = true;
      await Promise.all(callers);
      assert.ok(fired < 2000, `a 50 ms timer fired after ${fired} ms`);
      assert.ok(during > 0, "appends went on while the timer waited");
    } finally {
      await o.close();
    }
  });

  test("pruning keeps the rest verifiable and appends continue", async () => {
    let now = Date.parse("2026-01-01T00:00:00Z");
    const dir = tempDir();
    const ds = await openDatastore({ dataDir: dir });
    const plane = await openAuditPlane(ds, { dataDir: dir, env: { TENET_MASTER_KEY: MASTER }, checkpointEvery: 10, now: () => now });
    try {
      for (let i = 0; i < 50; i++) {
        await plane.log.append(decision(i));
        now += 60_000;
      }
      const deleted = await plane.log.prune(new Date(Date.parse("2026-01-01T00:30:00Z")));
      assert.equal(deleted, 30);
      assert.equal((await ds.readAudit(0, 100)).length, 20);
      for (let i = 50; i < 55; i++) await plane.log.append(decision(i));
      await plane.log.checkpointNow();
      const r = await verifyAuditLog(ds, plane.verifyNote);
      assert.equal(r.ok, true, JSON.stringify(r.problems));
      assert.equal(r.prunedBefore, 30);
      assert.equal(r.entries, 25);
      assert.equal(r.verifiedSize, 55);
      const reopened = await openAuditPlane(ds, { dataDir: dir, env: { TENET_MASTER_KEY: MASTER } });
      assert.equal(reopened.log.size, 55, "the tree is rebuilt from the pruned summary and the rest");
      assert.equal((await reopened.log.append(changeEvent({ type: "store.create", activity: "create", actor: "test", entity: { type: "store", uid: "s" } }, undefined))).seq, 55);
      await reopened.close();
    } finally {
      await plane.close();
      await ds.close();
    }
  });
});

describe("audit log (PostgreSQL)", { skip: PG_SKIP }, () => {
  test("two replicas append to one log: every append lands, in one verifiable tree", async () => {
    const a = await postgres({ checkpointEvery: 50 });
    const b = await a.reopen();
    try {
      const appends: Array<Promise<{ seq: number }>> = [];
      for (let round = 0; round < 20; round++) {
        for (let i = 0; i < 10; i++) appends.push(a.plane.log.append(decision(round * 100 + i)), b.plane.log.append(decision(round * 100 + 50 + i)));
        await new Promise((r) => setImmediate(r));
      }
      const seqs = (await Promise.all(appends)).map((r) => r.seq).sort((x, y) => x - y);
      assert.deepEqual(seqs, Array.from({ length: 400 }, (_, i) => i), "400 appends, 400 distinct consecutive seqs");
      await a.plane.log.checkpointNow();
      await b.plane.log.checkpointNow();
      const r = await verifyAuditLog(a.ds, a.plane.verifyNote);
      assert.equal(r.ok, true, JSON.stringify(r.problems));
      assert.equal(r.entries, 400);
    } finally {
      await b.close();
      await a.close();
      await dropTestSchema(a.schema);
    }
  });

  test("tampering in the PostgreSQL tables is detected", async () => {
    const o = await postgres();
    try {
      await fill(o, 40);
      let r = await verifyAuditLog(o.ds, o.plane.verifyNote);
      assert.equal(r.ok, true, JSON.stringify(r.problems));
      await o.tamper(`UPDATE audit_entries SET event = replace(event, 'viewer', 'editor') WHERE seq = 3`);
      await o.tamper(`DELETE FROM audit_entries WHERE seq = 17`);
      r = await verifyAuditLog(o.ds, o.plane.verifyNote);
      assert.ok(r.problems.some((p) => p.kind === "modified" && p.seq === 3), JSON.stringify(r.problems));
      assert.ok(r.problems.some((p) => p.kind === "removed" && p.seq === 17));
    } finally {
      await o.close();
      await dropTestSchema(o.schema);
    }
  });
});
