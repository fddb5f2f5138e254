/**
 * The embedded SQLite Datastore (better-sqlite3), Tenet's default storage.
 *
 * Durability: WAL journal with `synchronous=FULL`, so the WAL is synced at every commit and an
 * acknowledged write survives kill -9 and power loss. Other processes opening the same file
 * wait up to `busyTimeoutMs` for a lock instead of failing at once. Every tuple write is one
 * `BEGIN IMMEDIATE` transaction that bumps `stores.revision`, applies deletes then writes, and
 * appends one change-log row per tuple; a conflict throws and rolls all of it back.
 *
 * better-sqlite3 is synchronous: each method runs to completion without yielding, so no two
 * statements of this connection ever interleave.
 *
 * Change feed: this process owns the file, so subscribers are in-process listeners, called after
 * each tuple write of this datastore commits. Writes by another process on the same file are
 * not announced; receivers treat notifications as hints anyway.
 */
import Database from "better-sqlite3";
import type Sqlite from "better-sqlite3";
import { TenetError } from "../../errors.js";
import type { ApiKeyRecord, Scope } from "../../identity/api-keys/api-key.js";
import type { AuthorizationModel } from "../../policy/model/types.js";
import type { TupleKey, TupleKeyWithoutCondition } from "../../policy/tuples/tuple.js";
import { ulid } from "../../util/ulid.js";
import {
  checkAuditBatch,
  checkAuditQuery,
  checkAuditStart,
  checkCheckpoint,
  checkListCheckpoints,
  checkPruneRecord,
  checkPruneSize,
  checkReadAudit,
  checkpointFork,
  joinSubtrees,
  splitSubtrees,
} from "../audit-rows.js";
import { StorageError } from "../errors.js";
import { AUDIT_COLUMNS, SqliteAuditQuery } from "./audit-query.js";
import {
  AuditConflict,
  type AuditCheckpointRow,
  type AuditPruneRow,
  type AuditQuery,
  type AuditRow,
  type Assertion,
  type Datastore,
  type ModelRecord,
  type Page,
  type PageRequest,
  type StoreRecord,
  type TupleChange,
  type TupleFilter,
  type TupleRecord,
  TupleWriteConflict,
  DocumentConflict,
  type DocumentRecord,
} from "../interfaces.js";
import { LocalChangeFeed } from "../memory/local-change-feed.js";
import { pageSize } from "../paging.js";
import { decodeKeyset, encodeKeyset, tupleQuery } from "./keyset.js";
import { migrateSqlite } from "./migrate.js";
import { GroupCommit } from "./group-commit.js";

export interface SqliteOptions {
  /** How long to wait for another process's lock before giving up, in ms (default 5000). */
  busyTimeoutMs?: number;
  /** Tuples read per query while streaming allTuples (default 10,000). */
  allTuplesBatchSize?: number;
}

interface DocumentRow {
  id: string;
  version: number;
  body: string;
  created_at: string;
  updated_at: string;
}

interface StoreRow {
  id: string;
  name: string;
  created_at: string;
  updated_at: string;
}

interface ModelRow {
  id: string;
  store_id: string;
  model: string;
  created_at: string;
}

interface TupleRow {
  object: string;
  relation: string;
  subject: string;
  condition_name: string | null;
  condition_context: string | null;
}

interface TupleRecordRow extends TupleRow {
  revision: number;
  written_at: string;
}

interface ChangeRow extends TupleRow {
  revision: number;
  operation: "write" | "delete";
  changed_at: string;
}

interface ApiKeyRow {
  id: string;
  name: string;
  secret_hash: string;
  scopes: string;
  stores: string;
  created_at: string;
  revoked_at: string | null;
  rate_limit: number;
}

const TUPLE_COLUMNS = "object, relation, subject, condition_name, condition_context";
const CHECKPOINT_COLUMNS = "size, root_hash AS rootHash, time, note";
interface PrunedRow {
  size: number;
  subtrees: Buffer;
  root_hash: Buffer;
  checkpoint_time: string;
  note: string;
  time: string;
}

function pruneRecord(r: PrunedRow): AuditPruneRow {
  return { size: r.size, subtrees: splitSubtrees(r.subtrees), checkpoint: { size: r.size, rootHash: r.root_hash, time: r.checkpoint_time, note: r.note }, time: r.time };
}

function tupleKey(r: TupleRow): TupleKey {
  const key: TupleKey = { object: r.object, relation: r.relation, user: r.subject };
  if (r.condition_name !== null) {
    key.condition = r.condition_context === null ? { name: r.condition_name } : { name: r.condition_name, context: JSON.parse(r.condition_context) as Record<string, unknown> };
  }
  return key;
}

function storeRecord(r: StoreRow): StoreRecord {
  return { id: r.id, name: r.name, createdAt: r.created_at, updatedAt: r.updated_at };
}

function modelRecord(r: ModelRow): ModelRecord {
  return { id: r.id, storeId: r.store_id, model: JSON.parse(r.model) as AuthorizationModel, createdAt: r.created_at };
}

const API_KEY_COLUMNS = "id, name, secret_hash, scopes, stores, created_at, revoked_at, rate_limit";

function apiKeyRecord(r: ApiKeyRow): ApiKeyRecord {
  const rec: ApiKeyRecord = {
    id: r.id,
    name: r.name,
    secretHash: r.secret_hash,
    scopes: JSON.parse(r.scopes) as Scope[],
    stores: JSON.parse(r.stores) as string[],
    createdAt: r.created_at,
    rateLimit: r.rate_limit,
  };
  if (r.revoked_at !== null) rec.revokedAt = r.revoked_at;
  return rec;
}

function storeNotFound(id: string): TenetError {
  return new TenetError("store_not_found", `store '${id}' not found`);
}

/** Turns SQLite's failures of the file itself into StorageErrors; passes anything else through. */
export function classifySqliteError(err: unknown, file: string): unknown {
  if (err instanceof StorageError || err instanceof TenetError || err instanceof TupleWriteConflict || err instanceof AuditConflict) return err;
  const code = (err as { code?: unknown }).code;
  const message = err instanceof Error ? err.message : String(err);
  if (typeof code === "string") {
    if (code.startsWith("SQLITE_NOTADB") || code.startsWith("SQLITE_CORRUPT")) {
      return new StorageError("corrupt", `${file} is not a Tenet database or is damaged (${message}); restore it from a backup or move it away`, { cause: err });
    }
    if (/^SQLITE_(CANTOPEN|READONLY|PERM|AUTH|FULL|IOERR)/.test(code)) {
      return new StorageError("not_writable", `cannot write the database ${file} (${message}); check the data directory's permissions and free space`, { cause: err });
    }
    if (code.startsWith("SQLITE_BUSY") || code.startsWith("SQLITE_LOCKED")) {
      return new StorageError("unavailable", `the database ${file} stayed locked by another process (${message})`, { cause: err });
    }
  }
  if (err instanceof TypeError && /directory does not exist/.test(message)) {
    return new StorageError("not_writable", `cannot create the database ${file}: its directory does not exist`, { cause: err });
  }
  return err;
}

export class SqliteDatastore implements Datastore {
  readonly kind = "sqlite" as const;
  private readonly batchSize: number;
  private readonly s;
  private readonly readTupleStatements = new Map<string, Sqlite.Statement<unknown[], TupleRecordRow>>();
  private readonly writeTx: (storeId: string, deletes: TupleKeyWithoutCondition[], writes: TupleKey[]) => number;
  private readonly auditQuery: SqliteAuditQuery;
  private readonly appendAuditTx: (rows: AuditRow[], checkpoint: AuditCheckpointRow | undefined) => void;
  private readonly pruneAuditTx: (record: AuditPruneRow) => number;
  private readonly auditHeadTx: () => { size: number; checkpoint: AuditCheckpointRow | undefined; pruned: AuditPruneRow | undefined };
  private readonly feed = new LocalChangeFeed();
  private readonly group: GroupCommit;

  /**
   * Opens (creating if needed) the database file and brings its schema up to date. Throws a
   * StorageError when the file cannot be written, is not a database, or has a newer schema.
   */
  static open(file: string, opts: SqliteOptions = {}): SqliteDatastore {
    const busyTimeoutMs = opts.busyTimeoutMs ?? 5000;
    if (!Number.isInteger(busyTimeoutMs) || busyTimeoutMs < 0) throw new TypeError("busyTimeoutMs must be a non-negative integer");
    let db: Sqlite.Database | undefined;
    try {
      db = new Database(file, { timeout: busyTimeoutMs });
      db.pragma(`busy_timeout = ${busyTimeoutMs}`);
      setWalMode(db, busyTimeoutMs);
      // FULL: the WAL is synced at every commit, so an acknowledged write survives power loss.
      db.pragma("synchronous = FULL");
      // The audit log appends ~1 KB per decision, spread over several indexes: copying the WAL
      // back every 10,000 pages (~40 MB) instead of every 1,000 spares most rewrites of the same
      // index pages (measured +30-45% appends/s on a 1M-entry log).
      db.pragma("wal_autocheckpoint = 10000");
      db.pragma("foreign_keys = ON");
      const applied = migrateSqlite(db);
      return new SqliteDatastore(db, file, applied, opts);
    } catch (err) {
      db?.close();
      throw classifySqliteError(err, file);
    }
  }

  private constructor(
    private readonly db: Sqlite.Database,
    /** The database file (the audit writer thread opens its own connection to it). */
    readonly file: string,
    /** Migration versions this open applied (empty when the schema was already current). */
    readonly migrationsApplied: readonly number[],
    opts: SqliteOptions,
  ) {
    this.group = new GroupCommit(db);
    this.batchSize = opts.allTuplesBatchSize ?? 10_000;
    if (!Number.isInteger(this.batchSize) || this.batchSize < 1) throw new TypeError("allTuplesBatchSize must be a positive integer");
    this.s = {
      storeExists: db.prepare<[string], unknown>("SELECT 1 FROM stores WHERE id = ?").pluck(),
      insertStore: db.prepare<[string, string, string, string]>("INSERT INTO stores (id, name, created_at, updated_at) VALUES (?, ?, ?, ?)"),
      getStore: db.prepare<[string], StoreRow>("SELECT id, name, created_at, updated_at FROM stores WHERE id = ?"),
      listStores: db.prepare<[number], StoreRow>("SELECT id, name, created_at, updated_at FROM stores ORDER BY id LIMIT ?"),
      listStoresAfter: db.prepare<[string, number], StoreRow>("SELECT id, name, created_at, updated_at FROM stores WHERE id > ? ORDER BY id LIMIT ?"),
      deleteStore: db.prepare<[string]>("DELETE FROM stores WHERE id = ?"),
      // Inserts only if the store exists, in one statement.
      insertModel: db.prepare<[string, string, string, string, string]>(
        "INSERT INTO models (store_id, id, model, created_at) SELECT ?, ?, ?, ? WHERE EXISTS (SELECT 1 FROM stores WHERE id = ?)",
      ),
      getModel: db.prepare<[string, string], ModelRow>("SELECT store_id, id, model, created_at FROM models WHERE store_id = ? AND id = ?"),
      listModels: db.prepare<[string, number], ModelRow>("SELECT store_id, id, model, created_at FROM models WHERE store_id = ? ORDER BY id DESC LIMIT ?"),
      listModelsBefore: db.prepare<[string, string, number], ModelRow>(
        "SELECT store_id, id, model, created_at FROM models WHERE store_id = ? AND id < ? ORDER BY id DESC LIMIT ?",
      ),
      bumpRevision: db.prepare<[string], number>("UPDATE stores SET revision = revision + 1 WHERE id = ? RETURNING revision").pluck(),
      revision: db.prepare<[string], number>("SELECT revision FROM stores WHERE id = ?").pluck(),
      deleteTuple: db.prepare<[string, string, string, string], Pick<TupleRow, "condition_name" | "condition_context">>(
        "DELETE FROM tuples WHERE store_id = ? AND object = ? AND relation = ? AND subject = ? RETURNING condition_name, condition_context",
      ),
      insertTuple: db.prepare<[string, string, string, string, string | null, string | null, number, string]>(
        `INSERT INTO tuples (store_id, ${TUPLE_COLUMNS}, revision, written_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`,
      ),
      insertChange: db.prepare<[string, number, string, string, string, string, string | null, string | null, string]>(
        `INSERT INTO changelog (store_id, revision, operation, ${TUPLE_COLUMNS}, changed_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      ),
      allTuples: db.prepare<[string, number], TupleRow>(`SELECT ${TUPLE_COLUMNS} FROM tuples WHERE store_id = ? ORDER BY object, relation, subject LIMIT ?`),
      allTuplesAfter: db.prepare<[string, string, string, string, number], TupleRow>(
        `SELECT ${TUPLE_COLUMNS} FROM tuples WHERE store_id = ? AND (object, relation, subject) > (?, ?, ?) ORDER BY object, relation, subject LIMIT ?`,
      ),
      changes: db.prepare<[string, number, number], ChangeRow>(
        `SELECT revision, operation, ${TUPLE_COLUMNS}, changed_at FROM changelog WHERE store_id = ? AND revision > ? ORDER BY revision, id LIMIT ?`,
      ),
      // Inserts or replaces, only if the store exists, in one statement.
      writeAssertions: db.prepare<[string, string, string, string]>(
        `INSERT INTO assertions (store_id, model_id, assertions) SELECT ?, ?, ? WHERE EXISTS (SELECT 1 FROM stores WHERE id = ?)
         ON CONFLICT (store_id, model_id) DO UPDATE SET assertions = excluded.assertions`,
      ),
      readAssertions: db.prepare<[string, string], string>("SELECT assertions FROM assertions WHERE store_id = ? AND model_id = ?").pluck(),
      getDocument: db.prepare<[string, string], DocumentRow>("SELECT id, version, body, created_at, updated_at FROM documents WHERE collection = ? AND id = ?"),
      insertDocument: db.prepare<[string, string, string, string, string]>(
        "INSERT INTO documents (collection, id, version, body, created_at, updated_at) VALUES (?, ?, 1, ?, ?, ?) ON CONFLICT DO NOTHING",
      ),
      updateDocument: db.prepare<[string, string, string, string, number]>(
        "UPDATE documents SET version = version + 1, body = ?, updated_at = ? WHERE collection = ? AND id = ? AND version = ?",
      ),
      // Ids in [prefix, prefix + U+FFFF) start with the prefix; `after` and `limit` page.
      listDocuments: db.prepare<[string, string, string, string, number], DocumentRow>(
        "SELECT id, version, body, created_at, updated_at FROM documents WHERE collection = ? AND id >= ? AND id < ? AND id > ? ORDER BY id LIMIT ?",
      ),
      deleteDocument: db.prepare<[string, string]>("DELETE FROM documents WHERE collection = ? AND id = ?"),
      insertApiKey: db.prepare<[string, string, string, string, string, string, string | null, number]>(
        `INSERT INTO api_keys (${API_KEY_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
      ),
      getApiKey: db.prepare<[string], ApiKeyRow>(`SELECT ${API_KEY_COLUMNS} FROM api_keys WHERE id = ?`),
      listApiKeys: db.prepare<[], ApiKeyRow>(`SELECT ${API_KEY_COLUMNS} FROM api_keys ORDER BY created_at DESC, id`),
      revokeApiKey: db.prepare<[string, string]>("UPDATE api_keys SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL"),
      changesOfType: db.prepare<[string, number, string, string, number], ChangeRow>(
        `SELECT revision, operation, ${TUPLE_COLUMNS}, changed_at FROM changelog
         WHERE store_id = ? AND revision > ? AND object >= ? AND object < ? ORDER BY revision, id LIMIT ?`,
      ),
      // Entries ever appended: one past the last seq, or the prune point once everything is pruned.
      auditSize: db
        .prepare<[], number>("SELECT max(coalesce((SELECT max(seq) + 1 FROM audit_entries), 0), coalesce((SELECT size FROM audit_pruned WHERE id = 1), 0))")
        .pluck(),
      insertAudit: db.prepare<[number, string, string, number, string | null, string | null, string | null, string | null, string | null, string, Uint8Array]>(
        "INSERT INTO audit_entries (seq, time, type, class_uid, store_id, subject, resource, decision, policy, event, leaf_hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
      ),
      // A checkpoint of a stored size replaces it only if the roots agree (re-signed): no row changes otherwise.
      putCheckpoint: db.prepare<[number, Uint8Array, string, string]>(
        `INSERT INTO audit_checkpoints (size, root_hash, time, note) VALUES (?, ?, ?, ?)
         ON CONFLICT (size) DO UPDATE SET time = excluded.time, note = excluded.note WHERE root_hash = excluded.root_hash`,
      ),
      latestCheckpoint: db.prepare<[], AuditCheckpointRow>(`SELECT ${CHECKPOINT_COLUMNS} FROM audit_checkpoints ORDER BY size DESC LIMIT 1`),
      getCheckpoint: db.prepare<[number], AuditCheckpointRow>(`SELECT ${CHECKPOINT_COLUMNS} FROM audit_checkpoints WHERE size = ?`),
      listCheckpoints: db.prepare<[number, number], AuditCheckpointRow>(`SELECT ${CHECKPOINT_COLUMNS} FROM audit_checkpoints WHERE size >= ? ORDER BY size LIMIT ?`),
      pruned: db.prepare<[], PrunedRow>("SELECT size, subtrees, root_hash, checkpoint_time, note, time FROM audit_pruned WHERE id = 1"),
      readAudit: db.prepare<[number, number], AuditRow>(`SELECT ${AUDIT_COLUMNS} FROM audit_entries WHERE seq >= ? AND seq < ? ORDER BY seq`),
      readAuditLeaves: db.prepare<[number, number], Pick<AuditRow, "seq" | "leafHash">>(`SELECT seq, leaf_hash AS leafHash FROM audit_entries WHERE seq >= ? AND seq < ? ORDER BY seq`),
      readAuditEvents: db.prepare<[number, number], Pick<AuditRow, "seq" | "event" | "leafHash">>(`SELECT seq, event, leaf_hash AS leafHash FROM audit_entries WHERE seq >= ? AND seq < ? ORDER BY seq`),
      pruneEntries: db.prepare<[number]>("DELETE FROM audit_entries WHERE seq < ?"),
      pruneCheckpoints: db.prepare<[number]>("DELETE FROM audit_checkpoints WHERE size < ?"),
      putPruned: db.prepare<[number, Buffer, Uint8Array, string, string, string]>(
        `INSERT INTO audit_pruned (id, size, subtrees, root_hash, checkpoint_time, note, time) VALUES (1, ?, ?, ?, ?, ?, ?)
         ON CONFLICT (id) DO UPDATE SET size = excluded.size, subtrees = excluded.subtrees, root_hash = excluded.root_hash,
           checkpoint_time = excluded.checkpoint_time, note = excluded.note, time = excluded.time`,
      ),
    };
    const s = this.s;
    this.writeTx = db
      .transaction((storeId: string, deletes: TupleKeyWithoutCondition[], writes: TupleKey[]): number => {
        const revision = s.bumpRevision.get(storeId);
        if (revision === undefined) throw storeNotFound(storeId);
        const now = new Date().toISOString();
        for (const d of deletes) {
          const old = s.deleteTuple.get(storeId, d.object, d.relation, d.user);
          if (!old) throw new TupleWriteConflict("missing", { object: d.object, relation: d.relation, user: d.user });
          s.insertChange.run(storeId, revision, "delete", d.object, d.relation, d.user, old.condition_name, old.condition_context, now);
        }
        for (const w of writes) {
          const name = w.condition ? w.condition.name : null;
          const context = w.condition?.context !== undefined ? JSON.stringify(w.condition.context) : null;
          if (s.insertTuple.run(storeId, w.object, w.relation, w.user, name, context, revision, now).changes === 0) {
            throw new TupleWriteConflict("exists", { object: w.object, relation: w.relation, user: w.user });
          }
          s.insertChange.run(storeId, revision, "write", w.object, w.relation, w.user, name, context, now);
        }
        return revision;
      })
      // IMMEDIATE takes the write lock at BEGIN, so two processes never deadlock upgrading a read lock.
      .immediate;
    // The size is read under the write lock: no other process can append between check and insert.
    this.auditQuery = new SqliteAuditQuery(db);
    this.appendAuditTx = db.transaction((rows: AuditRow[], checkpoint: AuditCheckpointRow | undefined): void => {
      checkAuditStart(rows, s.auditSize.get()!);
      for (const r of rows) s.insertAudit.run(r.seq, r.time, r.type, r.classUid, r.storeId, r.subject, r.resource, r.decision, r.policy, r.event, r.leafHash);
      if (checkpoint && s.putCheckpoint.run(checkpoint.size, checkpoint.rootHash, checkpoint.time, checkpoint.note).changes === 0) throw checkpointFork(checkpoint.size);
    }).immediate;
    this.pruneAuditTx = db.transaction((record: AuditPruneRow): number => {
      checkPruneSize(record, s.auditSize.get()!, s.pruned.get()?.size ?? 0);
      const deleted = s.pruneEntries.run(record.size).changes;
      s.pruneCheckpoints.run(record.size);
      const c = record.checkpoint;
      s.putPruned.run(record.size, joinSubtrees(record.subtrees), c.rootHash, c.time, c.note, record.time);
      return deleted;
    }).immediate;
    // One read transaction: size, checkpoint and prune record of the same moment.
    this.auditHeadTx = db.transaction(() => {
      const pruned = s.pruned.get();
      return { size: s.auditSize.get()!, checkpoint: s.latestCheckpoint.get(), pruned: pruned && pruneRecord(pruned) };
    }).deferred;
  }

  /** Runs a statement, reporting failures of the database file itself as StorageErrors. */
  /** Commits pending document writes before a write of another kind (see group-commit.ts). */
  private write<T>(fn: () => T): T {
    this.group.flush();
    return this.guard(fn);
  }

  private guard<T>(fn: () => T): T {
    try {
      return fn();
    } catch (err) {
      throw classifySqliteError(err, this.file);
    }
  }

  private requireStore(id: string): void {
    if (this.s.storeExists.get(id) === undefined) throw storeNotFound(id);
  }

  // ---- stores ----
  async createStore(name: string): Promise<StoreRecord> {
    const now = new Date().toISOString();
    const record: StoreRecord = { id: ulid(), name, createdAt: now, updatedAt: now };
    this.write(() => this.s.insertStore.run(record.id, name, now, now));
    return record;
  }

  async getStore(id: string): Promise<StoreRecord | undefined> {
    const row = this.guard(() => this.s.getStore.get(id));
    return row ? storeRecord(row) : undefined;
  }

  async listStores(page?: PageRequest): Promise<Page<StoreRecord>> {
    const size = pageSize(page);
    const after = decodeKeyset("store", 1, page?.continuationToken);
    const rows = this.guard(() => (after ? this.s.listStoresAfter.all(after[0]!, size + 1) : this.s.listStores.all(size + 1)));
    return this.page(rows.map(storeRecord), size, (r) => encodeKeyset("store", [r.id]));
  }

  async deleteStore(id: string): Promise<boolean> {
    // Models, tuples and changes go with it (ON DELETE CASCADE), in the same statement.
    return this.write(() => this.s.deleteStore.run(id).changes > 0);
  }

  // ---- models ----
  async writeModel(storeId: string, model: AuthorizationModel): Promise<ModelRecord> {
    const json = JSON.stringify(model);
    const rec: ModelRecord = { id: ulid(), storeId, model: JSON.parse(json) as AuthorizationModel, createdAt: new Date().toISOString() };
    const inserted = this.write(() => this.s.insertModel.run(storeId, rec.id, json, rec.createdAt, storeId).changes);
    if (inserted === 0) throw storeNotFound(storeId);
    return rec;
  }

  async getModel(storeId: string, id: string): Promise<ModelRecord | undefined> {
    return this.guard(() => {
      const row = this.s.getModel.get(storeId, id);
      if (row) return modelRecord(row);
      this.requireStore(storeId);
      return undefined;
    });
  }

  async latestModel(storeId: string): Promise<ModelRecord | undefined> {
    return this.guard(() => {
      const row = this.s.listModels.get(storeId, 1);
      if (row) return modelRecord(row);
      this.requireStore(storeId);
      return undefined;
    });
  }

  async listModels(storeId: string, page?: PageRequest): Promise<Page<ModelRecord>> {
    this.guard(() => this.requireStore(storeId));
    const size = pageSize(page);
    const before = decodeKeyset("model", 1, page?.continuationToken);
    const rows = this.guard(() => (before ? this.s.listModelsBefore.all(storeId, before[0]!, size + 1) : this.s.listModels.all(storeId, size + 1)));
    return this.page(rows.map(modelRecord), size, (m) => encodeKeyset("model", [m.id]));
  }

  // ---- tuples ----
  async writeTuples(storeId: string, deletes: TupleKeyWithoutCondition[], writes: TupleKey[]): Promise<number> {
    const revision = this.write(() => this.writeTx(storeId, deletes, writes));
    this.feed.publish(storeId, revision);
    return revision;
  }

  async readTuples(storeId: string, filter: TupleFilter, page?: PageRequest): Promise<Page<TupleRecord>> {
    this.guard(() => this.requireStore(storeId));
    const size = pageSize(page);
    const after = decodeKeyset("tuple", 3, page?.continuationToken);
    const q = tupleQuery(filter, after !== undefined);
    const params = [...q.params];
    let keyset = "";
    if (after) {
      // Continue after the last row's key, compared on the sort columns only.
      if (q.order.length === 0) return { items: [] };
      const last = { object: after[0]!, relation: after[1]!, subject: after[2]! };
      keyset = q.order.length === 1 ? ` AND ${q.order[0]} > ?` : ` AND (${q.order.join(", ")}) > (${q.order.map(() => "?").join(", ")})`;
      params.push(...q.order.map((c) => last[c]));
    }
    const key = `${q.shape}${after ? "+" : ""}`;
    let stmt = this.readTupleStatements.get(key);
    if (!stmt) {
      const order = q.order.length > 0 ? ` ORDER BY ${q.order.join(", ")}` : "";
      const where = ["store_id = ?", ...q.where].join(" AND ");
      // Without statistics SQLite prefers walking the whole store in primary-key order (to
      // avoid a sort) over the subject index. With the subject fixed, the subject index
      // (store, subject, object, relation) is always at least as selective, and sorted.
      const from = filter.user ? "tuples INDEXED BY tuples_by_subject" : "tuples";
      stmt = this.db.prepare<unknown[], TupleRecordRow>(`SELECT ${TUPLE_COLUMNS}, revision, written_at FROM ${from} WHERE ${where}${keyset}${order} LIMIT ?`);
      this.readTupleStatements.set(key, stmt);
    }
    const rows = this.guard(() => stmt.all(storeId, ...params, size + 1));
    const records = rows.map((r) => ({ key: tupleKey(r), revision: r.revision, timestamp: r.written_at }));
    return this.page(records, size, (t) => encodeKeyset("tuple", [t.key.object, t.key.relation, t.key.user]));
  }

  /**
   * Streams a store's tuples in key order, one batch per query. Not an open `.iterate()` cursor:
   * the consumer awaits between items, and a statement left open across awaits would make this
   * connection refuse every other statement (writes included) until the stream ends.
   */
  async *allTuples(storeId: string): AsyncIterable<TupleKey> {
    this.guard(() => this.requireStore(storeId));
    let rows = this.guard(() => this.s.allTuples.all(storeId, this.batchSize));
    for (;;) {
      for (const r of rows) yield tupleKey(r);
      const last = rows[rows.length - 1];
      if (rows.length < this.batchSize || !last) return;
      rows = this.guard(() => this.s.allTuplesAfter.all(storeId, last.object, last.relation, last.subject, this.batchSize));
    }
  }

  async revision(storeId: string): Promise<number> {
    const r = this.guard(() => this.s.revision.get(storeId));
    if (r === undefined) throw storeNotFound(storeId);
    return r;
  }

  async readChanges(storeId: string, after: number, opts: { type?: string; limit?: number } = {}): Promise<TupleChange[]> {
    this.guard(() => this.requireStore(storeId));
    // SQLite reads a negative LIMIT as "no limit".
    const limit = opts.limit && opts.limit > 0 ? Math.ceil(opts.limit) : -1;
    const rows = this.guard(() =>
      opts.type ? this.s.changesOfType.all(storeId, after, `${opts.type}:`, `${opts.type};`, limit) : this.s.changes.all(storeId, after, limit),
    );
    return rows.map((r) => ({ revision: r.revision, operation: r.operation, key: tupleKey(r), timestamp: r.changed_at }));
  }

  // ---- assertions ----
  async writeAssertions(storeId: string, modelId: string, assertions: Assertion[]): Promise<void> {
    const json = JSON.stringify(assertions);
    if (this.write(() => this.s.writeAssertions.run(storeId, modelId, json, storeId).changes) === 0) throw storeNotFound(storeId);
  }

  async readAssertions(storeId: string, modelId: string): Promise<Assertion[]> {
    return this.guard(() => {
      const json = this.s.readAssertions.get(storeId, modelId);
      if (json !== undefined) return JSON.parse(json) as Assertion[];
      this.requireStore(storeId);
      return [];
    });
  }

  // ---- documents ----
  async getDocument<T = unknown>(collection: string, id: string): Promise<DocumentRecord<T> | undefined> {
    const row = this.guard(() => this.s.getDocument.get(collection, id));
    return row ? documentRecord<T>(collection, row) : undefined;
  }

  async putDocument(collection: string, id: string, body: unknown, expectedVersion: number): Promise<number> {
    const json = JSON.stringify(body);
    if (json === undefined) throw new TypeError("a document body must be JSON");
    const now = new Date().toISOString();
    let changed = 0;
    // Group-committed (group-commit.ts): resolves once durable; a conflict changed nothing.
    await this.group.write(() => {
      changed = this.guard(() =>
        expectedVersion === 0 ? this.s.insertDocument.run(collection, id, json, now, now).changes : this.s.updateDocument.run(json, now, collection, id, expectedVersion).changes,
      );
    });
    if (changed === 0) throw new DocumentConflict(collection, id, expectedVersion);
    return expectedVersion + 1;
  }

  async listDocuments<T = unknown>(collection: string, opts: { prefix?: string; after?: string; limit?: number } = {}): Promise<DocumentRecord<T>[]> {
    const prefix = opts.prefix ?? "";
    const rows = this.guard(() => this.s.listDocuments.all(collection, prefix, `${prefix}\uffff`, opts.after ?? "", opts.limit && opts.limit > 0 ? Math.ceil(opts.limit) : -1));
    return rows.map((r) => documentRecord<T>(collection, r));
  }

  async deleteDocument(collection: string, id: string): Promise<boolean> {
    return this.group.write(() => this.guard(() => this.s.deleteDocument.run(collection, id).changes > 0));
  }

  // ---- API keys ----
  async createApiKey(rec: ApiKeyRecord): Promise<void> {
    this.group.flush();
    try {
      this.s.insertApiKey.run(
        rec.id,
        rec.name,
        rec.secretHash,
        JSON.stringify(rec.scopes),
        JSON.stringify(rec.stores),
        rec.createdAt,
        rec.revokedAt ?? null,
        rec.rateLimit,
      );
    } catch (err) {
      const code = (err as { code?: unknown }).code;
      if (code === "SQLITE_CONSTRAINT_PRIMARYKEY") throw new Error(`API key '${rec.id}' already exists`, { cause: err });
      throw classifySqliteError(err, this.file);
    }
  }

  async getApiKey(id: string): Promise<ApiKeyRecord | undefined> {
    const row = this.guard(() => this.s.getApiKey.get(id));
    return row ? apiKeyRecord(row) : undefined;
  }

  async listApiKeys(): Promise<ApiKeyRecord[]> {
    return this.guard(() => this.s.listApiKeys.all()).map(apiKeyRecord);
  }

  async revokeApiKey(id: string, at: string): Promise<boolean> {
    return this.write(() => this.s.revokeApiKey.run(at, id).changes > 0);
  }

  // ---- audit log ----
  async appendAudit(rows: AuditRow[], checkpoint?: AuditCheckpointRow): Promise<void> {
    checkAuditBatch(rows, checkpoint);
    if (rows.length === 0 && !checkpoint) return;
    this.write(() => this.appendAuditTx(rows, checkpoint));
  }

  async putAuditCheckpoint(checkpoint: AuditCheckpointRow): Promise<void> {
    checkCheckpoint(checkpoint);
    const changed = this.write(() => this.s.putCheckpoint.run(checkpoint.size, checkpoint.rootHash, checkpoint.time, checkpoint.note).changes);
    if (changed === 0) throw checkpointFork(checkpoint.size);
  }

  async auditHead(): Promise<{ size: number; checkpoint: AuditCheckpointRow | undefined; pruned: AuditPruneRow | undefined }> {
    return this.write(() => this.auditHeadTx());
  }

  async readAudit(fromSeq: number, limit: number): Promise<AuditRow[]> {
    checkReadAudit(fromSeq, limit);
    return this.guard(() => this.s.readAudit.all(fromSeq, fromSeq + limit));
  }

  async readAuditLeaves(fromSeq: number, limit: number): Promise<Array<Pick<AuditRow, "seq" | "leafHash">>> {
    checkReadAudit(fromSeq, limit);
    return this.guard(() => this.s.readAuditLeaves.all(fromSeq, fromSeq + limit));
  }

  async readAuditEvents(fromSeq: number, limit: number): Promise<Array<Pick<AuditRow, "seq" | "event" | "leafHash">>> {
    checkReadAudit(fromSeq, limit);
    return this.guard(() => this.s.readAuditEvents.all(fromSeq, fromSeq + limit));
  }

  async queryAudit(q: AuditQuery): Promise<AuditRow[]> {
    checkAuditQuery(q);
    return this.guard(() => this.auditQuery.run(q));
  }

  async listAuditCheckpoints(fromSize: number, limit: number): Promise<AuditCheckpointRow[]> {
    checkListCheckpoints(fromSize, limit);
    return this.guard(() => this.s.listCheckpoints.all(fromSize, limit));
  }

  async getAuditCheckpoint(size: number): Promise<AuditCheckpointRow | undefined> {
    return this.guard(() => this.s.getCheckpoint.get(size));
  }

  async pruneAudit(record: AuditPruneRow): Promise<number> {
    checkPruneRecord(record);
    return this.write(() => this.pruneAuditTx(record));
  }

  // ---- change feed ----
  /** Listeners are called synchronously after each committed tuple write of this datastore. */
  subscribe(listener: (storeId: string, revision: number) => void): Promise<() => Promise<void>> {
    return this.feed.subscribe(listener);
  }

  async close(): Promise<void> {
    this.feed.clear();
    if (this.db.open) this.group.flush();
    if (this.db.open) this.db.close();
  }

  /** Cuts `rows` (fetched with one extra row) to a page, with a token when there is more. */
  private page<T>(rows: T[], size: number, token: (last: T) => string): Page<T> {
    if (rows.length <= size) return { items: rows };
    const items = rows.slice(0, size);
    return { items, continuationToken: token(items[size - 1]!) };
  }
}

/**
 * Switching a new file to WAL needs an exclusive lock, and SQLite does not apply busy_timeout
 * to that switch: processes opening a fresh file together would get SQLITE_BUSY. Retry briefly.
 */
function setWalMode(db: Sqlite.Database, timeoutMs: number): void {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      db.pragma("journal_mode = WAL");
      return;
    } catch (err) {
      const code = (err as { code?: string }).code;
      if ((code !== "SQLITE_BUSY" && code !== "SQLITE_LOCKED") || Date.now() >= deadline) throw err;
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 10);
    }
  }
}

function documentRecord<T>(collection: string, r: DocumentRow): DocumentRecord<T> {
  return { collection, id: r.id, version: r.version, body: JSON.parse(r.body) as T, createdAt: r.created_at, updatedAt: r.updated_at };
}
