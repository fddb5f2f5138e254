/**
 * The audit log's storage (AuditBackend) as contract tests, run by datastore-contract.ts for
 * every adapter: batches appended at the log's size or not at all, reads by seq range, every
 * query filter with keyset paging both ways, checkpoints stored with their batch, and pruning.
 * Also the row and checkpoint builders the adapter-specific audit tests use.
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { TenetError } from "../../src/errors.js";
import { type AuditBackend, type AuditCheckpointRow, type AuditPruneRow, type AuditQuery, type AuditRow, AuditConflict, type Datastore } from "../../src/storage/interfaces.js";

const TYPES = ["access.decision", "authentication.sign_in", "policy.change"] as const;
const DECISIONS = ["allow", "deny", "challenge", null] as const;

const sha256 = (...parts: (string | Uint8Array)[]): Uint8Array => {
  const h = createHash("sha256");
  for (const p of parts) h.update(p);
  return new Uint8Array(h.digest());
};

/** A time `seq` seconds after 2024-01-01T00:00:00.000Z, as the log writes it. */
export const auditTime = (seq: number): string => new Date(Date.UTC(2024, 0, 1) + seq * 1000).toISOString();

/** An entry whose indexed values cycle with seq (so that every filter matches some, not all). */
export function auditRow(seq: number, tag = ""): AuditRow {
  const type = TYPES[seq % 3]!;
  const event = JSON.stringify({ type, seq, tag, text: "naïve ✓ 日本語 🙂 \"quoted\" \\ \n" });
  return {
    seq,
    time: auditTime(seq),
    type,
    classUid: type === "access.decision" ? 6003 : type === "policy.change" ? 6003 : 3002,
    storeId: seq % 4 === 3 ? null : `store-${seq % 2}`,
    subject: seq % 7 === 6 ? null : `user:${seq % 5}`,
    resource: seq % 5 === 4 ? null : `doc:${seq % 3}`,
    decision: DECISIONS[seq % 4]!,
    policy: seq % 2 === 0 ? `policy-${seq % 3}@1` : null,
    event,
    leafHash: sha256(new Uint8Array([0]), event),
  };
}

export const auditRows = (from: number, count: number, tag = ""): AuditRow[] => Array.from({ length: count }, (_, i) => auditRow(from + i, tag));

/** A checkpoint at `size` (its root is not a real Merkle root: storage does not check roots). */
export const auditCheckpoint = (size: number, tag = ""): AuditCheckpointRow => ({
  size,
  rootHash: sha256(`root ${size} ${tag}`),
  time: auditTime(size),
  note: `tenet.example/audit\n${size}\n${tag}\n\n— tenet signature ${size}\n`,
});

const hex = (b: Uint8Array): string => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString("hex");

/** Rows and checkpoints with their bytes as hex, so that Buffer and Uint8Array compare equal. */
export const plainRow = (r: AuditRow): Record<string, unknown> => {
  assert.ok(r.leafHash instanceof Uint8Array, "leafHash is a Uint8Array");
  return { ...r, leafHash: hex(r.leafHash) };
};
export const plainCheckpoint = (c: AuditCheckpointRow | undefined): Record<string, unknown> | undefined => {
  if (c === undefined) return undefined;
  assert.ok(c.rootHash instanceof Uint8Array, "rootHash is a Uint8Array");
  return { ...c, rootHash: hex(c.rootHash) };
};
const plainPrune = (p: AuditPruneRow | undefined): Record<string, unknown> | undefined =>
  p === undefined ? undefined : { ...p, subtrees: p.subtrees.map(hex), checkpoint: plainCheckpoint(p.checkpoint) };

/** Every stored entry, in seq order. */
export async function allAudit(ds: AuditBackend): Promise<AuditRow[]> {
  return ds.readAudit(0, 1_000_000);
}

export const isAuditConflict = (expected: number, got: number) => (err: unknown) => {
  assert.ok(err instanceof AuditConflict, `expected AuditConflict, got ${String(err)}`);
  assert.deepEqual({ expected: err.expected, got: err.got }, { expected, got });
  return true;
};

const seqs = (rows: AuditRow[]): number[] => rows.map((r) => r.seq);

/** What queryAudit must answer, computed from the rows: the reference semantics. */
function expectedQuery(rows: AuditRow[], q: AuditQuery): number[] {
  const match = rows.filter(
    (r) =>
      (q.from === undefined || r.time >= q.from) &&
      (q.to === undefined || r.time < q.to) &&
      (q.type === undefined || r.type === q.type) &&
      (q.storeId === undefined || r.storeId === q.storeId) &&
      (q.subject === undefined || r.subject === q.subject) &&
      (q.resource === undefined || r.resource === q.resource) &&
      (q.decision === undefined || r.decision === q.decision) &&
      (q.policy === undefined || r.policy === q.policy) &&
      (q.afterSeq === undefined || r.seq > q.afterSeq) &&
      (q.beforeSeq === undefined || r.seq < q.beforeSeq),
  );
  const ordered = q.order === "desc" ? match.reverse() : match;
  return seqs(ordered.slice(0, q.limit));
}

/** Every page of a query, following afterSeq (ascending) or beforeSeq (descending). */
async function pageAll(ds: AuditBackend, q: Omit<AuditQuery, "limit" | "afterSeq" | "beforeSeq">, limit: number): Promise<number[]> {
  const out: number[] = [];
  let cursor: number | undefined;
  for (let pages = 0; ; pages++) {
    assert.ok(pages < 1000, "paging does not end");
    const page = await ds.queryAudit({ ...q, limit, ...(cursor === undefined ? {} : q.order === "desc" ? { beforeSeq: cursor } : { afterSeq: cursor }) });
    assert.ok(page.length <= limit);
    out.push(...seqs(page));
    if (page.length < limit) return out;
    cursor = page[page.length - 1]!.seq;
  }
}

type It = (title: string, fn: (ds: Datastore) => Promise<void>) => void;

export function auditContract(it: It): void {
  it("audit: an empty log has size 0, no checkpoint and no prune record", async (ds) => {
    assert.deepEqual(await ds.auditHead(), { size: 0, checkpoint: undefined, pruned: undefined });
    assert.deepEqual(await ds.readAudit(0, 100), []);
    assert.deepEqual(await ds.queryAudit({ limit: 10 }), []);
    assert.deepEqual(await ds.listAuditCheckpoints(0, 10), []);
    assert.equal(await ds.getAuditCheckpoint(0), undefined);
  });

  it("audit: appends batches and reads them back by seq range, every field exactly", async (ds) => {
    const written = [...auditRows(0, 10), ...auditRows(10, 15)];
    await ds.appendAudit(written.slice(0, 10));
    assert.equal((await ds.auditHead()).size, 10);
    await ds.appendAudit(written.slice(10), auditCheckpoint(25));
    const head = await ds.auditHead();
    assert.equal(head.size, 25);
    assert.deepEqual(plainCheckpoint(head.checkpoint), plainCheckpoint(auditCheckpoint(25)));
    assert.equal(head.pruned, undefined);

    assert.deepEqual((await ds.readAudit(0, 100)).map(plainRow), written.map(plainRow));
    assert.deepEqual(seqs(await ds.readAudit(5, 3)), [5, 6, 7]);
    assert.deepEqual(seqs(await ds.readAudit(23, 10)), [23, 24]);
    assert.deepEqual(await ds.readAudit(25, 10), []);
    assert.deepEqual(await ds.readAudit(3, 0), []);
    // The event text comes back byte for byte (it is what the leaf hash covers).
    for (const r of await ds.readAudit(0, 25)) assert.equal(Buffer.from(r.event, "utf8").toString("hex"), Buffer.from(written[r.seq]!.event, "utf8").toString("hex"));
    // A single row, and an empty batch, are batches too.
    await ds.appendAudit([auditRow(25)]);
    await ds.appendAudit([]);
    assert.equal((await ds.auditHead()).size, 26);
  });

  it("audit: refuses a batch that does not start at the size or has a gap, and changes nothing", async (ds) => {
    await assert.rejects(ds.appendAudit(auditRows(1, 3)), isAuditConflict(0, 1), "the first batch starts at 0");
    await ds.appendAudit(auditRows(0, 5), auditCheckpoint(5));
    const before = (await allAudit(ds)).map(plainRow);
    await assert.rejects(ds.appendAudit(auditRows(4, 3, "again"), auditCheckpoint(7)), isAuditConflict(5, 4), "overlapping the last entry");
    await assert.rejects(ds.appendAudit(auditRows(0, 5, "rewrite")), isAuditConflict(5, 0), "rewriting the log");
    await assert.rejects(ds.appendAudit(auditRows(6, 3), auditCheckpoint(9)), isAuditConflict(5, 6), "leaving a gap");
    await assert.rejects(ds.appendAudit([auditRow(5), auditRow(6), auditRow(8)], auditCheckpoint(8)), isAuditConflict(7, 8), "a gap inside the batch");
    await assert.rejects(ds.appendAudit([auditRow(5), auditRow(5)]), isAuditConflict(6, 5), "a seq twice");
    assert.deepEqual((await allAudit(ds)).map(plainRow), before);
    const head = await ds.auditHead();
    assert.equal(head.size, 5);
    assert.equal(head.checkpoint?.size, 5, "no checkpoint of a refused batch was stored");
    for (const size of [7, 8, 9]) assert.equal(await ds.getAuditCheckpoint(size), undefined);
    // The refused batches left no trace: the next one is at 5.
    await ds.appendAudit(auditRows(5, 2));
    assert.deepEqual(seqs(await allAudit(ds)), [0, 1, 2, 3, 4, 5, 6]);
  });

  it("audit: of concurrent batches at one seq, exactly one is stored", async (ds) => {
    await ds.appendAudit(auditRows(0, 3));
    const results = await Promise.allSettled(Array.from({ length: 6 }, (_, i) => ds.appendAudit(auditRows(3, 4, `writer ${i}`), auditCheckpoint(7, `writer ${i}`))));
    const won = results.findIndex((r) => r.status === "fulfilled");
    assert.equal(results.filter((r) => r.status === "fulfilled").length, 1);
    for (const r of results) if (r.status === "rejected") assert.ok(r.reason instanceof AuditConflict, String(r.reason));
    const stored = await allAudit(ds);
    assert.deepEqual(seqs(stored), [0, 1, 2, 3, 4, 5, 6]);
    assert.deepEqual(stored.slice(3).map(plainRow), auditRows(3, 4, `writer ${won}`).map(plainRow), "the rows are the winner's, all of them");
    assert.deepEqual(plainCheckpoint(await ds.getAuditCheckpoint(7)), plainCheckpoint(auditCheckpoint(7, `writer ${won}`)));
  });

  it("audit: checkpoints are stored with their batch or alone, listed by size, never forked", async (ds) => {
    await ds.appendAudit(auditRows(0, 4), auditCheckpoint(4));
    await ds.appendAudit(auditRows(4, 4));
    await ds.putAuditCheckpoint(auditCheckpoint(8));
    await ds.appendAudit(auditRows(8, 4), auditCheckpoint(12));
    assert.deepEqual((await ds.listAuditCheckpoints(0, 10)).map(plainCheckpoint), [4, 8, 12].map((s) => plainCheckpoint(auditCheckpoint(s))));
    assert.deepEqual((await ds.listAuditCheckpoints(5, 10)).map((c) => c.size), [8, 12]);
    assert.deepEqual((await ds.listAuditCheckpoints(8, 1)).map((c) => c.size), [8]);
    assert.deepEqual(await ds.listAuditCheckpoints(13, 10), []);
    assert.deepEqual(plainCheckpoint(await ds.getAuditCheckpoint(8)), plainCheckpoint(auditCheckpoint(8)));
    assert.equal(await ds.getAuditCheckpoint(9), undefined);
    assert.equal((await ds.auditHead()).checkpoint?.size, 12);

    // The same tree head signed again replaces the stored checkpoint.
    const resigned = { ...auditCheckpoint(8), time: auditTime(100), note: "signed again\n" };
    await ds.putAuditCheckpoint(resigned);
    assert.deepEqual(plainCheckpoint(await ds.getAuditCheckpoint(8)), plainCheckpoint(resigned));
    // A different root at a stored size is a fork: refused, with the batch carrying it.
    const fork = auditCheckpoint(8, "fork");
    await assert.rejects(ds.putAuditCheckpoint(fork), (e: unknown) => e instanceof TenetError && /forked/.test(e.message));
    await ds.appendAudit(auditRows(12, 2), auditCheckpoint(14));
    await assert.rejects(ds.appendAudit(auditRows(14, 2), auditCheckpoint(14, "fork")), (e: unknown) => e instanceof TenetError && /forked/.test(e.message));
    assert.equal((await ds.auditHead()).size, 14, "the batch carrying a forked checkpoint was not stored");
    assert.deepEqual(plainCheckpoint(await ds.getAuditCheckpoint(8)), plainCheckpoint(resigned));
    assert.deepEqual(plainCheckpoint(await ds.getAuditCheckpoint(14)), plainCheckpoint(auditCheckpoint(14)));
  });

  it("audit: the narrow reads (leaves for the tree, events for verify) give the same rows' fields", async (ds) => {
    await ds.appendAudit(auditRows(0, 30));
    const full = await ds.readAudit(5, 20);
    const leaves = await ds.readAuditLeaves(5, 20);
    const events = await ds.readAuditEvents(5, 20);
    assert.deepEqual(leaves.map((r) => [r.seq, Buffer.from(r.leafHash).toString("hex")]), full.map((r) => [r.seq, Buffer.from(r.leafHash).toString("hex")]));
    assert.deepEqual(events.map((r) => [r.seq, r.event, Buffer.from(r.leafHash).toString("hex")]), full.map((r) => [r.seq, r.event, Buffer.from(r.leafHash).toString("hex")]));
    assert.deepEqual(await ds.readAuditLeaves(30, 10), []);
  });

  it("audit: queries by every filter and time range (AND-ed), oldest or newest first, paged by seq", async (ds) => {
    const rows = auditRows(0, 120);
    for (let i = 0; i < rows.length; i += 40) await ds.appendAudit(rows.slice(i, i + 40));
    const queries: Omit<AuditQuery, "limit">[] = [
      {},
      { type: "policy.change" },
      { storeId: "store-1" },
      { subject: "user:3" },
      { resource: "doc:2" },
      { decision: "deny" },
      { policy: "policy-1@1" },
      { from: auditTime(30) },
      { to: auditTime(30) },
      { from: auditTime(30), to: auditTime(31) },
      { from: auditTime(30), to: auditTime(30) },
      { from: "2024-01-01T00:00:45.5Z", to: auditTime(90) },
      { subject: "user:1", decision: "allow" },
      { type: "access.decision", storeId: "store-0", resource: "doc:0", from: auditTime(10), to: auditTime(100) },
      { subject: "user:2", resource: "doc:1", decision: "challenge", policy: "policy-2@1", storeId: "store-0", type: "policy.change" },
      { subject: "user:9" },
      { decision: "pending" },
      { from: auditTime(500) },
    ];
    for (const base of queries) {
      for (const order of [undefined, "asc", "desc"] as const) {
        const q = order === undefined ? base : { ...base, order };
        const all = expectedQuery(rows, { ...q, limit: 1000 });
        assert.deepEqual(seqs(await ds.queryAudit({ ...q, limit: 1000 })), all, `${JSON.stringify(q)}`);
        assert.deepEqual(seqs(await ds.queryAudit({ ...q, limit: 3 })), all.slice(0, 3), `${JSON.stringify(q)}, limit 3`);
        for (const limit of [1, 7]) assert.deepEqual(await pageAll(ds, q, limit), all, `${JSON.stringify(q)} in pages of ${limit}`);
      }
    }
    // Keyset bounds on their own, and both at once.
    assert.deepEqual(seqs(await ds.queryAudit({ afterSeq: 115, limit: 10 })), [116, 117, 118, 119]);
    assert.deepEqual(seqs(await ds.queryAudit({ beforeSeq: 3, order: "desc", limit: 10 })), [2, 1, 0]);
    assert.deepEqual(seqs(await ds.queryAudit({ afterSeq: 10, beforeSeq: 14, limit: 10 })), [11, 12, 13]);
    assert.deepEqual(seqs(await ds.queryAudit({ afterSeq: 10, beforeSeq: 14, order: "desc", limit: 10 })), [13, 12, 11]);
    assert.deepEqual(await ds.queryAudit({ afterSeq: 119, limit: 10 }), []);
    assert.deepEqual(await ds.queryAudit({ limit: 0 }), []);
    // Rows come back whole.
    assert.deepEqual((await ds.queryAudit({ subject: "user:4", order: "desc", limit: 2 })).map(plainRow), [auditRow(119), auditRow(114)].map(plainRow));
  });

  it("audit: queries over a long log (many 4,096-entry index blocks, sparse and dense matches, after pruning) agree with the rows", async (ds) => {
    // A subject that appears only in a few far-apart entries, so that a search has to cross
    // many empty blocks; the SQLite adapter indexes these columns per block of 4,096 seqs.
    const N = 13_000;
    const rare = new Set([5, 4095, 4096, 8191, 12_999]);
    const row = (seq: number): AuditRow => (rare.has(seq) ? { ...auditRow(seq), subject: "user:rare", policy: "policy-rare@1" } : auditRow(seq));
    const rows = Array.from({ length: N }, (_, i) => row(i));
    for (let i = 0; i < N; i += 1000) await ds.appendAudit(rows.slice(i, i + 1000));
    const queries: Omit<AuditQuery, "limit">[] = [
      { subject: "user:rare" },
      { policy: "policy-rare@1", decision: auditRow(4096).decision ?? undefined },
      { subject: "user:rare", from: auditTime(4096), to: auditTime(12_999) },
      { subject: "user:rare", from: auditTime(4096), to: auditTime(4096) },
      { subject: "user:3", resource: "doc:1", from: auditTime(4000), to: auditTime(9000) },
      { storeId: "store-1", from: "2024-01-01T01:08:15.5Z" },
      { resource: "doc:2", decision: "deny" },
      { subject: "user:nobody" },
      { subject: "user:rare", from: auditTime(N + 10) },
    ];
    for (const base of queries) {
      for (const order of ["asc", "desc"] as const) {
        const q = { ...base, order };
        const all = expectedQuery(rows, { ...q, limit: N });
        assert.deepEqual(seqs(await ds.queryAudit({ ...q, limit: N })), all, `${JSON.stringify(q)}`);
        assert.deepEqual(seqs(await ds.queryAudit({ ...q, limit: 2 })), all.slice(0, 2), `${JSON.stringify(q)}, limit 2`);
        const mid = all[Math.floor(all.length / 2)];
        if (mid !== undefined) {
          const cursor = order === "desc" ? { beforeSeq: mid } : { afterSeq: mid };
          assert.deepEqual(seqs(await ds.queryAudit({ ...q, ...cursor, limit: 5 })), expectedQuery(rows, { ...q, ...cursor, limit: 5 }), `${JSON.stringify(q)} from ${mid}`);
        }
      }
    }
    assert.deepEqual(await pageAll(ds, { subject: "user:rare", order: "desc" }, 2), [12_999, 8191, 4096, 4095, 5]);
    // Pruning the first blocks: searches start where the log now starts.
    await ds.pruneAudit({ size: 8192, subtrees: [new Uint8Array(32).fill(1)], checkpoint: auditCheckpoint(8192), time: auditTime(N) });
    assert.deepEqual(seqs(await ds.queryAudit({ subject: "user:rare", limit: 10 })), [12_999]);
    assert.deepEqual(seqs(await ds.queryAudit({ subject: "user:rare", order: "desc", limit: 10 })), [12_999]);
  });

  it("audit: prunes old entries and checkpoints, keeping the size; appends continue after", async (ds) => {
    for (let i = 0; i < 30; i += 10) await ds.appendAudit(auditRows(i, 10), auditCheckpoint(i + 10));
    const record: AuditPruneRow = { size: 20, subtrees: [new Uint8Array(32).fill(16), new Uint8Array(32).fill(4)], checkpoint: auditCheckpoint(20), time: auditTime(1000) };
    assert.equal(await ds.pruneAudit(record), 20);
    const head = await ds.auditHead();
    assert.equal(head.size, 30, "the size counts pruned entries");
    assert.deepEqual(plainPrune(head.pruned), plainPrune(record));
    assert.equal(head.checkpoint?.size, 30);
    assert.deepEqual(seqs(await allAudit(ds)), Array.from({ length: 10 }, (_, i) => 20 + i));
    assert.deepEqual(await ds.readAudit(0, 20), []);
    assert.deepEqual(seqs(await ds.readAudit(15, 8)), [20, 21, 22]);
    assert.deepEqual(seqs(await ds.queryAudit({ order: "desc", beforeSeq: 22, limit: 10 })), [21, 20]);
    assert.deepEqual((await ds.listAuditCheckpoints(0, 10)).map((c) => c.size), [20, 30], "checkpoints below the prune point are gone");
    assert.equal(await ds.getAuditCheckpoint(10), undefined);

    // Appends continue at the size, never at a pruned seq.
    await assert.rejects(ds.appendAudit(auditRows(20, 2)), isAuditConflict(30, 20));
    await assert.rejects(ds.appendAudit(auditRows(0, 2)), isAuditConflict(30, 0));
    await ds.appendAudit(auditRows(30, 5));
    assert.equal((await ds.auditHead()).size, 35);

    // Refused: beyond the end, back before the last prune point, an inconsistent record.
    const before = seqs(await allAudit(ds));
    await assert.rejects(ds.pruneAudit({ ...record, size: 36, checkpoint: auditCheckpoint(36) }), (e: unknown) => e instanceof TenetError && e.code === "validation_error");
    await assert.rejects(ds.pruneAudit({ ...record, size: 10, checkpoint: auditCheckpoint(10) }), (e: unknown) => e instanceof TenetError && e.code === "validation_error");
    await assert.rejects(ds.pruneAudit({ ...record, size: 25 }), TypeError, "the checkpoint must be at the prune point");
    assert.deepEqual(seqs(await allAudit(ds)), before);
    assert.deepEqual(plainPrune((await ds.auditHead()).pruned), plainPrune(record));

    // Pruning again (to the same point: nothing deleted; then everything) replaces the record.
    assert.equal(await ds.pruneAudit({ ...record, time: auditTime(1001) }), 0);
    const all: AuditPruneRow = { size: 35, subtrees: [new Uint8Array(32).fill(32), new Uint8Array(32).fill(2), new Uint8Array(32).fill(1)], checkpoint: auditCheckpoint(35), time: auditTime(2000) };
    assert.equal(await ds.pruneAudit(all), 15);
    const emptied = await ds.auditHead();
    assert.equal(emptied.size, 35, "with every entry pruned, the size is the prune point");
    assert.equal(emptied.checkpoint, undefined, "the checkpoints went with the entries");
    assert.deepEqual(plainPrune(emptied.pruned), plainPrune(all));
    assert.deepEqual(await allAudit(ds), []);
    await assert.rejects(ds.appendAudit(auditRows(0, 1)), isAuditConflict(35, 0));
    await ds.appendAudit(auditRows(35, 3), auditCheckpoint(38));
    assert.deepEqual(seqs(await allAudit(ds)), [35, 36, 37]);
    assert.equal((await ds.auditHead()).size, 38);
  });

  it("audit: refuses malformed arguments before doing anything", async (ds) => {
    await assert.rejects(ds.readAudit(-1, 10), TypeError);
    await assert.rejects(ds.readAudit(0, 1.5), TypeError);
    await assert.rejects(ds.queryAudit({ limit: -1 }), TypeError);
    await assert.rejects(ds.queryAudit({ limit: 10, afterSeq: Number.NaN }), TypeError);
    await assert.rejects(ds.listAuditCheckpoints(0, -1), TypeError);
    await assert.rejects(ds.appendAudit([{ ...auditRow(0), leafHash: new Uint8Array(31) }]), TypeError);
    await assert.rejects(ds.putAuditCheckpoint({ ...auditCheckpoint(1), rootHash: new Uint8Array(33) }), TypeError);
    assert.equal((await ds.auditHead()).size, 0);
  });
}
