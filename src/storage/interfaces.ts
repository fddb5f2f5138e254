/**
 * The storage contract, as small interfaces composed into one Datastore. Domain code asks for the
 * narrowest interface it needs; adapters (memory, SQLite, PostgreSQL) implement all of them and
 * pass one shared test suite. No adapter type leaks into domain code.
 */
import type { AuthorizationModel } from "../policy/model/types.js";
import type { TupleKey, TupleKeyWithoutCondition } from "../policy/tuples/tuple.js";
import type { ApiKeysBackend } from "../identity/api-keys/api-key.js";

export interface StoreRecord {
  id: string;
  name: string;
  createdAt: string;
  updatedAt: string;
}

export interface ModelRecord {
  id: string;
  storeId: string;
  model: AuthorizationModel;
  createdAt: string;
}

export interface TupleRecord {
  key: TupleKey;
  /** Revision at which the tuple was written. */
  revision: number;
  timestamp: string;
}

export interface TupleChange {
  revision: number;
  operation: "write" | "delete";
  key: TupleKey;
  timestamp: string;
}

export interface Page<T> {
  items: T[];
  /** Opaque; absent when there is nothing more. */
  continuationToken?: string;
}

export interface PageRequest {
  pageSize?: number;
  continuationToken?: string;
}

export interface TupleFilter {
  /** `type:id` or just `type:` (every object of the type). */
  object?: string;
  relation?: string;
  user?: string;
}

export interface StoresBackend {
  createStore(name: string): Promise<StoreRecord>;
  getStore(id: string): Promise<StoreRecord | undefined>;
  listStores(page?: PageRequest): Promise<Page<StoreRecord>>;
  deleteStore(id: string): Promise<boolean>;
}

export interface ModelsBackend {
  writeModel(storeId: string, model: AuthorizationModel): Promise<ModelRecord>;
  getModel(storeId: string, id: string): Promise<ModelRecord | undefined>;
  latestModel(storeId: string): Promise<ModelRecord | undefined>;
  listModels(storeId: string, page?: PageRequest): Promise<Page<ModelRecord>>;
}

/** Why a tuple write was refused by the backend (checked inside the write's transaction). */
export class TupleWriteConflict extends Error {
  constructor(
    readonly reason: "exists" | "missing",
    readonly key: TupleKeyWithoutCondition,
  ) {
    super(reason === "exists" ? "tuple already exists" : "tuple does not exist");
  }
}

export interface TuplesBackend {
  /**
   * Applies deletes then writes atomically and returns the new revision. Throws
   * TupleWriteConflict (and changes nothing) if a write already exists or a delete is missing.
   */
  writeTuples(storeId: string, deletes: TupleKeyWithoutCondition[], writes: TupleKey[]): Promise<number>;
  readTuples(storeId: string, filter: TupleFilter, page?: PageRequest): Promise<Page<TupleRecord>>;
  /** Every tuple of a store, for loading the in-memory index. */
  allTuples(storeId: string): AsyncIterable<TupleKey>;
  /** The store's current revision (0 when nothing was ever written). */
  revision(storeId: string): Promise<number>;
}

export interface ChangelogBackend {
  /** Changes with revision > `after`, oldest first. */
  readChanges(storeId: string, after: number, opts?: { type?: string; limit?: number }): Promise<TupleChange[]>;
}

/** OpenFGA assertions: expected check results stored per model (for `fga model test`-style use). */
export interface Assertion {
  tuple_key: { object: string; relation: string; user: string };
  expectation: boolean;
  contextual_tuples?: TupleKey[];
  context?: Record<string, unknown>;
}

export interface AssertionsBackend {
  /** Replaces the assertions of a model. */
  writeAssertions(storeId: string, modelId: string, assertions: Assertion[]): Promise<void>;
  readAssertions(storeId: string, modelId: string): Promise<Assertion[]>;
}

/**
 * Change notifications between replicas. PostgreSQL publishes `(storeId, revision)` after each
 * committed tuple write (LISTEN/NOTIFY) to every replica; the embedded adapters have one process
 * and notify its own listeners.
 * Notifications may be lost: receivers treat them as hints and read the change log.
 */
export interface ChangeFeed {
  /** Calls `listener` for writes committed by any replica; resolves to an unsubscribe function. */
  subscribe(listener: (storeId: string, revision: number) => void): Promise<() => Promise<void>>;
}

/** A stored document: a small JSON record in a named collection. */
export interface DocumentRecord<T = unknown> {
  collection: string;
  id: string;
  /** Writes so far: 1 after creation, +1 per replacement. */
  version: number;
  body: T;
  createdAt: string;
  updatedAt: string;
}

/** The version a write expected was not the stored one (someone else wrote first). */
export class DocumentConflict extends Error {
  constructor(
    readonly collection: string,
    readonly id: string,
    readonly expected: number,
  ) {
    super(`document ${collection}/${id} is not at version ${expected}`);
  }
}

/**
 * Documents: JSON records by collection and id, for the planes whose records are few and read by
 * id or in id order (access policy versions, just-in-time requests, the webhook outbox).
 */
export interface DocumentsBackend {
  getDocument<T = unknown>(collection: string, id: string): Promise<DocumentRecord<T> | undefined>;
  /**
   * Creates the document (`expectedVersion` 0) or replaces it (`expectedVersion` = its current
   * version); returns the new version. Throws DocumentConflict, changing nothing, otherwise.
   */
  putDocument(collection: string, id: string, body: unknown, expectedVersion: number): Promise<number>;
  /** Documents of a collection in id order: ids starting with `prefix`, after `after`, at most `limit`. */
  listDocuments<T = unknown>(collection: string, opts?: { prefix?: string; after?: string; limit?: number }): Promise<DocumentRecord<T>[]>;
  deleteDocument(collection: string, id: string): Promise<boolean>;
}

/**
 * One entry of the audit log as stored. `event` is the canonical JSON of the OCSF event — the
 * exact bytes whose RFC 6962 leaf hash is `leafHash` — and the other fields are copies of some of
 * its values, kept in columns so that queries can use indexes.
 */
export interface AuditRow {
  /** 0-based leaf index; consecutive, never reused. */
  seq: number;
  /** RFC 3339 with milliseconds, UTC (sorts as text). */
  time: string;
  /** Tenet's event type, e.g. `access.decision`, `authentication.sign_in`, `policy.change`. */
  type: string;
  /** OCSF class_uid (6003 API Activity, 3002 Authentication, ...). */
  classUid: number;
  storeId: string | null;
  /** `type:id` of who acted. */
  subject: string | null;
  /** `type:id` of what was acted on. */
  resource: string | null;
  /** allow | deny | challenge | pending | success | failure, when the event has one. */
  decision: string | null;
  /** The policy (`name` or `name@version`) that decided, when one did. */
  policy: string | null;
  event: string;
  /** SHA-256(0x00 || utf8(event)), 32 bytes. */
  leafHash: Uint8Array;
}

/** A signed checkpoint of the log: the tree head at `size` entries, as a C2SP signed note. */
export interface AuditCheckpointRow {
  size: number;
  /** The RFC 6962 Merkle tree hash of entries [0, size), 32 bytes. */
  rootHash: Uint8Array;
  time: string;
  /** The signed note (body + signature lines), exactly as served. */
  note: string;
}

/**
 * What pruning left behind: entries [0, size) are gone; `subtrees` are the roots of the perfect
 * subtrees that covered them (left to right, RFC 6962 order), enough to keep computing the tree
 * from entry `size` on; `checkpoint` is the signed checkpoint at exactly `size`.
 */
export interface AuditPruneRow {
  size: number;
  subtrees: Uint8Array[];
  checkpoint: AuditCheckpointRow;
  time: string;
}

export interface AuditQuery {
  /** Inclusive lower and exclusive upper bounds on `time` (RFC 3339). */
  from?: string | undefined;
  to?: string | undefined;
  type?: string | undefined;
  storeId?: string | undefined;
  subject?: string | undefined;
  resource?: string | undefined;
  decision?: string | undefined;
  policy?: string | undefined;
  /** Keyset paging: entries with seq > afterSeq (ascending) or < beforeSeq (descending). */
  afterSeq?: number | undefined;
  beforeSeq?: number | undefined;
  order?: "asc" | "desc" | undefined;
  limit: number;
}

/**
 * The audit log's storage. Appends are batches (group commit): all rows of a batch and its
 * checkpoint in one transaction, or nothing. The log itself decides sequence numbers; a batch
 * whose first seq is not the current size is refused (AuditConflict), so two writers can never
 * interleave or overwrite.
 */
export interface AuditBackend {
  /** Appends rows (consecutive seqs starting at the current size) and optionally a checkpoint. */
  appendAudit(rows: AuditRow[], checkpoint?: AuditCheckpointRow): Promise<void>;
  /** Stores a checkpoint on its own (a timer checkpoint with no new entries to carry it). */
  putAuditCheckpoint(checkpoint: AuditCheckpointRow): Promise<void>;
  /** The number of entries ever appended (pruned ones included), the latest checkpoint and the prune record. */
  auditHead(): Promise<{ size: number; checkpoint: AuditCheckpointRow | undefined; pruned: AuditPruneRow | undefined }>;
  /** Entries with seq in [fromSeq, fromSeq + limit), ascending; a pruned or missing seq is simply absent. */
  readAudit(fromSeq: number, limit: number): Promise<AuditRow[]>;
  /** As readAudit, only what rebuilding the tree needs (seq and leaf hash): cheaper per row. */
  readAuditLeaves(fromSeq: number, limit: number): Promise<Array<Pick<AuditRow, "seq" | "leafHash">>>;
  /** As readAudit, only what verifying needs (seq, event, leaf hash): cheaper per row. */
  readAuditEvents(fromSeq: number, limit: number): Promise<Array<Pick<AuditRow, "seq" | "event" | "leafHash">>>;
  queryAudit(q: AuditQuery): Promise<AuditRow[]>;
  /** Checkpoints with size >= fromSize, ascending by size, at most `limit`. */
  listAuditCheckpoints(fromSize: number, limit: number): Promise<AuditCheckpointRow[]>;
  /** The checkpoint of exactly this size, if one was made. */
  getAuditCheckpoint(size: number): Promise<AuditCheckpointRow | undefined>;
  /**
   * Deletes entries with seq < record.size and checkpoints with size < record.size, and stores
   * the prune record (replacing an older one), in one transaction. Returns the entries deleted.
   */
  pruneAudit(record: AuditPruneRow): Promise<number>;
}

/** An append whose first seq was not the log's size. */
export class AuditConflict extends Error {
  constructor(
    readonly expected: number,
    readonly got: number,
  ) {
    super(`audit append at seq ${got}, but the log has ${expected} entries`);
  }
}

export interface Datastore extends StoresBackend, ModelsBackend, TuplesBackend, ChangelogBackend, AssertionsBackend, ApiKeysBackend, DocumentsBackend, AuditBackend, ChangeFeed {
  readonly kind: "memory" | "sqlite" | "postgres";
  close(): Promise<void>;
}
