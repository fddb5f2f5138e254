/**
 * What the three adapters of AuditBackend share: argument checks (made before any work, so a
 * refused call changes nothing), the errors they throw, and the stored form of a prune record's
 * subtree roots.
 */
import { TenetError } from "../errors.js";
import { type AuditCheckpointRow, type AuditPruneRow, type AuditQuery, type AuditRow, AuditConflict } from "./interfaces.js";

/** Bytes of a SHA-256 hash: leaf hashes, root hashes and subtree roots. */
export const HASH_BYTES = 32;

/** The filter columns of AuditQuery (besides time) with their column names, in one order for all adapters. */
export const AUDIT_FILTERS = [
  ["type", "type"],
  ["storeId", "store_id"],
  ["subject", "subject"],
  ["resource", "resource"],
  ["decision", "decision"],
  ["policy", "policy"],
] as const satisfies ReadonlyArray<readonly [keyof AuditQuery & keyof AuditRow, string]>;

function count(value: number, name: string): void {
  if (!Number.isSafeInteger(value) || value < 0) throw new TypeError(`${name} must be a non-negative integer`);
}

/**
 * Checks that the batch's seqs are consecutive (the first is compared with the stored size by
 * the adapter, inside its transaction). Throws AuditConflict at the first gap.
 */
export function checkAuditBatch(rows: readonly AuditRow[], checkpoint: AuditCheckpointRow | undefined): void {
  const first = rows[0]?.seq ?? 0;
  for (let i = 0; i < rows.length; i++) {
    const r = rows[i]!;
    if (r.seq !== first + i) throw new AuditConflict(first + i, r.seq);
    if (r.leafHash.length !== HASH_BYTES) throw new TypeError(`rows[${i}].leafHash must be ${HASH_BYTES} bytes`);
  }
  if (checkpoint) checkCheckpoint(checkpoint);
}

export function checkCheckpoint(c: AuditCheckpointRow): void {
  count(c.size, "checkpoint.size");
  if (c.rootHash.length !== HASH_BYTES) throw new TypeError(`checkpoint.rootHash must be ${HASH_BYTES} bytes`);
}

/** The batch's first seq must be the log's size. */
export function checkAuditStart(rows: readonly AuditRow[], size: number): void {
  const first = rows[0];
  if (first && first.seq !== size) throw new AuditConflict(size, first.seq);
}

export function checkReadAudit(fromSeq: number, limit: number): void {
  count(fromSeq, "fromSeq");
  count(limit, "limit");
}

export function checkAuditQuery(q: AuditQuery): void {
  count(q.limit, "limit");
  if (q.afterSeq !== undefined && !Number.isSafeInteger(q.afterSeq)) throw new TypeError("afterSeq must be an integer");
  if (q.beforeSeq !== undefined && !Number.isSafeInteger(q.beforeSeq)) throw new TypeError("beforeSeq must be an integer");
  if (q.order !== undefined && q.order !== "asc" && q.order !== "desc") throw new TypeError("order must be 'asc' or 'desc'");
}

export function checkListCheckpoints(fromSize: number, limit: number): void {
  count(fromSize, "fromSize");
  count(limit, "limit");
}

/** A prune record must describe itself consistently; its size is compared with the log by the adapter. */
export function checkPruneRecord(record: AuditPruneRow): void {
  count(record.size, "record.size");
  if (record.checkpoint.rootHash.length !== HASH_BYTES) throw new TypeError(`record.checkpoint.rootHash must be ${HASH_BYTES} bytes`);
  if (record.checkpoint.size !== record.size) {
    throw new TypeError(`record.checkpoint must be the checkpoint at record.size (${record.size}), not at ${record.checkpoint.size}`);
  }
  for (const s of record.subtrees) {
    if (s.length !== HASH_BYTES) throw new TypeError(`record.subtrees must be ${HASH_BYTES}-byte hashes`);
  }
}

/** Pruning may not go beyond the log's end, nor back before an earlier prune point. */
export function checkPruneSize(record: AuditPruneRow, size: number, prunedSize: number): void {
  if (record.size > size) {
    throw new TenetError("validation_error", `cannot prune the audit log to ${record.size} entries: it has only ${size}`);
  }
  if (record.size < prunedSize) {
    throw new TenetError("validation_error", `cannot prune the audit log to ${record.size} entries: it was already pruned to ${prunedSize}`);
  }
}

/**
 * Two different roots for one size would be two different logs (a fork): never overwrite a
 * checkpoint with one of another root. The same root signed again replaces the stored one.
 */
export function checkpointFork(size: number): TenetError {
  return new TenetError("internal_error", `a checkpoint of size ${size} with a different root hash is already stored; the audit log has forked`);
}

export function sameHash(a: Uint8Array, b: Uint8Array): boolean {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength));
}

/** Subtree roots are stored as one byte string: the 32-byte hashes back to back, in order. */
export function joinSubtrees(subtrees: readonly Uint8Array[]): Buffer {
  return Buffer.concat(subtrees);
}

export function splitSubtrees(joined: Uint8Array): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (let i = 0; i + HASH_BYTES <= joined.length; i += HASH_BYTES) out.push(new Uint8Array(joined.subarray(i, i + HASH_BYTES)));
  return out;
}

/** A copy whose bytes are the caller's no longer (the memory adapter keeps and hands out copies). */
export function copyCheckpoint(c: AuditCheckpointRow): AuditCheckpointRow {
  return { size: c.size, rootHash: new Uint8Array(c.rootHash), time: c.time, note: c.note };
}
