/**
 * The PostgreSQL Datastore (node-postgres Pool), for scale-out: any number of Tenet replicas
 * share one database.
 *
 * A tuple write is one transaction that first increments `stores.revision` (UPDATE ...
 * RETURNING). That takes the store row's lock, so concurrent writers to one store, from any
 * replica, are serialised and revisions have no gaps; writers to different stores do not wait
 * for each other. Deletes and writes are one set-based statement each (unnest of arrays) that
 * also appends the change-log rows, so a batch of 100 tuples costs five round trips.
 *
 * Change feed: the revision increment also queues `pg_notify(<channel>, '<storeId>:<revision>')`,
 * which PostgreSQL delivers when (and only if) the transaction commits, to every replica
 * subscribed to the schema's channel (see change-listener.ts).
 */
import { Pool, type ClientConfig, type PoolClient, type PoolConfig, type QueryConfig, type QueryResult, type QueryResultRow } from "pg";
import { TenetError } from "../../errors.js";
import type { ApiKeyRecord, Scope } from "../../identity/api-keys/api-key.js";
import type { AuthorizationModel } from "../../policy/model/types.js";
import type { TupleKey, TupleKeyWithoutCondition } from "../../policy/tuples/tuple.js";
import { ulid } from "../../util/ulid.js";
import {
  AUDIT_FILTERS,
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
import { pageSize } from "../paging.js";
import { ChangeSubscription, changeChannel } from "./change-listener.js";
import { decodeKeyset, encodeKeyset, tupleQuery } from "./keyset.js";
import { migratePostgres } from "./migrate.js";

export interface PostgresOptions {
  /** `postgres://user:password@host:port/database?...` */
  connectionString: string;
  /** Use this schema (it must exist) instead of the connection's default search_path. */
  schema?: string;
  /** Connections in the pool (default 10). */
  poolSize?: number;
  /** Give up connecting after this many ms (default 10,000). */
  connectTimeoutMs?: number;
  /** Tuples fetched per round trip while streaming allTuples (default 10,000). */
  allTuplesBatchSize?: number;
}

interface StoreRow {
  id: string;
  name: string;
  created_at: Date;
  updated_at: Date;
}

interface ModelRow {
  id: string;
  store_id: string;
  model: AuthorizationModel;
  created_at: Date;
}

interface TupleRow {
  object: string;
  relation: string;
  subject: string;
  condition_name: string | null;
  condition_context: Record<string, unknown> | null;
}

interface TupleRecordRow extends TupleRow {
  revision: string;
  written_at: Date;
}

interface ChangeRow extends TupleRow {
  revision: string;
  operation: "write" | "delete";
  changed_at: Date;
}

interface ApiKeyRow {
  id: string;
  name: string;
  secret_hash: string;
  scopes: Scope[];
  stores: string[];
  created_at: string;
  revoked_at: string | null;
  rate_limit: number;
}

interface KeyRow {
  object: string;
  relation: string;
  subject: string;
}

const TUPLE_COLUMNS = "object, relation, subject, condition_name, condition_context";
const AUDIT_COLUMNS = "seq, time, type, class_uid, store_id, subject, resource, decision, policy, event, leaf_hash";
/** First key of the audit log's advisory lock ("TAUD"); the second is a hash of the schema name. */
const AUDIT_LOCK_CLASS = 0x54415544;
const API_KEY_COLUMNS = "id, name, secret_hash, scopes, stores, created_at, revoked_at, rate_limit";
const SCHEMA_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,62}$/;

const SQL = {
  storeExists: "SELECT 1 FROM stores WHERE id = $1",
  insertStore: "INSERT INTO stores (id, name, created_at, updated_at) VALUES ($1, $2, $3, $3)",
  getStore: "SELECT id, name, created_at, updated_at FROM stores WHERE id = $1",
  listStores: "SELECT id, name, created_at, updated_at FROM stores WHERE id > $1 ORDER BY id LIMIT $2",
  deleteStore: "DELETE FROM stores WHERE id = $1",
  insertModel: "INSERT INTO models (store_id, id, model, created_at) SELECT $1, $2, $3::json, $4 WHERE EXISTS (SELECT 1 FROM stores WHERE id = $1)",
  getModel: "SELECT store_id, id, model, created_at FROM models WHERE store_id = $1 AND id = $2",
  latestModel: "SELECT store_id, id, model, created_at FROM models WHERE store_id = $1 ORDER BY id DESC LIMIT 1",
  listModels: "SELECT store_id, id, model, created_at FROM models WHERE store_id = $1 AND ($2::text IS NULL OR id < $2) ORDER BY id DESC LIMIT $3",
  revision: "SELECT revision FROM stores WHERE id = $1",
  // Also queues the change notification, sent only if the transaction commits.
  bumpRevision: "UPDATE stores SET revision = revision + 1 WHERE id = $1 RETURNING revision, pg_notify($2, id || ':' || revision) AS notified",
  // Deletes the batch and logs each deleted tuple (with the condition it had), in input order.
  deleteTuples: `
    WITH d AS (
      DELETE FROM tuples t
      USING unnest($3::text[], $4::text[], $5::text[]) WITH ORDINALITY AS k(object, relation, subject, ord)
      WHERE t.store_id = $1 AND t.object = k.object AND t.relation = k.relation AND t.subject = k.subject
      RETURNING k.ord, t.object, t.relation, t.subject, t.condition_name, t.condition_context
    )
    INSERT INTO changelog (store_id, revision, operation, ${TUPLE_COLUMNS}, changed_at)
    SELECT $1, $2, 'delete', ${TUPLE_COLUMNS}, $6 FROM d ORDER BY ord
    RETURNING object, relation, subject`,
  // Inserts the batch, skipping tuples that exist, and logs each inserted tuple.
  insertTuples: `
    WITH w AS (
      INSERT INTO tuples (store_id, ${TUPLE_COLUMNS}, revision, written_at)
      SELECT $1, k.object, k.relation, k.subject, k.condition_name, k.condition_context::json, $2, $8
      FROM unnest($3::text[], $4::text[], $5::text[], $6::text[], $7::text[]) WITH ORDINALITY
        AS k(object, relation, subject, condition_name, condition_context, ord)
      ORDER BY k.ord
      ON CONFLICT DO NOTHING
      RETURNING ${TUPLE_COLUMNS}
    )
    INSERT INTO changelog (store_id, revision, operation, ${TUPLE_COLUMNS}, changed_at)
    SELECT $1, $2, 'write', ${TUPLE_COLUMNS}, $8 FROM w
    RETURNING object, relation, subject`,
  changes: `SELECT revision, operation, ${TUPLE_COLUMNS}, changed_at FROM changelog
    WHERE store_id = $1 AND revision > $2 AND ($3::text IS NULL OR (object >= $3 AND object < $4))
    ORDER BY revision, id LIMIT $5`,
  // Inserts or replaces, only if the store exists.
  writeAssertions: `INSERT INTO assertions (store_id, model_id, assertions) SELECT $1, $2, $3::json WHERE EXISTS (SELECT 1 FROM stores WHERE id = $1)
    ON CONFLICT (store_id, model_id) DO UPDATE SET assertions = EXCLUDED.assertions`,
  readAssertions: "SELECT assertions FROM assertions WHERE store_id = $1 AND model_id = $2",
  insertApiKey: `INSERT INTO api_keys (${API_KEY_COLUMNS}) VALUES ($1, $2, $3, $4::text[], $5::text[], $6, $7, $8)`,
  getApiKey: `SELECT ${API_KEY_COLUMNS} FROM api_keys WHERE id = $1`,
  listApiKeys: `SELECT ${API_KEY_COLUMNS} FROM api_keys ORDER BY created_at DESC, id`,
  revokeApiKey: "UPDATE api_keys SET revoked_at = $2 WHERE id = $1 AND revoked_at IS NULL",
  currentSchema: "SELECT current_schema() AS schema",
  getDocument: "SELECT id, version, body, created_at, updated_at FROM documents WHERE collection = $1 AND id = $2",
  insertDocument: "INSERT INTO documents (collection, id, version, body, created_at, updated_at) VALUES ($1, $2, 1, $3::jsonb, $4, $4) ON CONFLICT DO NOTHING",
  updateDocument: "UPDATE documents SET version = version + 1, body = $3::jsonb, updated_at = $4 WHERE collection = $1 AND id = $2 AND version = $5",
  listDocuments: `SELECT id, version, body, created_at, updated_at FROM documents
    WHERE collection = $1 AND starts_with(id, $2) AND id > $3 ORDER BY id LIMIT $4`,
  deleteDocument: "DELETE FROM documents WHERE collection = $1 AND id = $2",
  // Serialises the audit log's appends and prunes across replicas (released at commit).
  lockAudit: "SELECT pg_advisory_xact_lock($1, hashtext(coalesce(current_schema(), ''))) AS locked",
  // Entries ever appended: one past the last seq, or the prune point once everything is pruned.
  auditSize: "SELECT greatest(coalesce((SELECT max(seq) + 1 FROM audit_entries), 0), coalesce((SELECT size FROM audit_pruned WHERE id = 1), 0)) AS size",
  // The batch as arrays, one per column: one statement whatever the batch size.
  insertAudit: `INSERT INTO audit_entries (${AUDIT_COLUMNS})
    SELECT $1::bigint + k.ord - 1, k.time, k.type, k.class_uid, k.store_id, k.subject, k.resource, k.decision, k.policy, k.event, k.leaf_hash
    FROM unnest($2::text[], $3::text[], $4::int[], $5::text[], $6::text[], $7::text[], $8::text[], $9::text[], $10::text[], $11::bytea[]) WITH ORDINALITY
      AS k(time, type, class_uid, store_id, subject, resource, decision, policy, event, leaf_hash, ord)`,
  // A checkpoint of a stored size replaces it only if the roots agree (re-signed): no row changes otherwise.
  putCheckpoint: `INSERT INTO audit_checkpoints (size, root_hash, time, note) VALUES ($1, $2, $3, $4)
    ON CONFLICT (size) DO UPDATE SET time = EXCLUDED.time, note = EXCLUDED.note WHERE audit_checkpoints.root_hash = EXCLUDED.root_hash`,
  // Size, latest checkpoint and prune record of one snapshot, in one statement.
  auditHead: `SELECT (SELECT max(seq) + 1 FROM audit_entries) AS next_seq,
      c.size AS c_size, c.root_hash AS c_root_hash, c.time AS c_time, c.note AS c_note,
      p.size AS p_size, p.subtrees AS p_subtrees, p.root_hash AS p_root_hash, p.checkpoint_time AS p_checkpoint_time, p.note AS p_note, p.time AS p_time
    FROM (SELECT 1) AS one
    LEFT JOIN LATERAL (SELECT size, root_hash, time, note FROM audit_checkpoints ORDER BY size DESC LIMIT 1) AS c ON true
    LEFT JOIN audit_pruned AS p ON p.id = 1`,
  prunedSize: "SELECT size FROM audit_pruned WHERE id = 1",
  readAudit: `SELECT ${AUDIT_COLUMNS} FROM audit_entries WHERE seq >= $1 AND seq < $2 ORDER BY seq`,
  readAuditLeaves: `SELECT seq, leaf_hash FROM audit_entries WHERE seq >= $1 AND seq < $2 ORDER BY seq`,
  readAuditEvents: `SELECT seq, event, leaf_hash FROM audit_entries WHERE seq >= $1 AND seq < $2 ORDER BY seq`,
  getCheckpoint: "SELECT size, root_hash, time, note FROM audit_checkpoints WHERE size = $1",
  listCheckpoints: "SELECT size, root_hash, time, note FROM audit_checkpoints WHERE size >= $1 ORDER BY size LIMIT $2",
  pruneEntries: "DELETE FROM audit_entries WHERE seq < $1",
  pruneCheckpoints: "DELETE FROM audit_checkpoints WHERE size < $1",
  putPruned: `INSERT INTO audit_pruned (id, size, subtrees, root_hash, checkpoint_time, note, time) VALUES (1, $1, $2, $3, $4, $5, $6)
    ON CONFLICT (id) DO UPDATE SET size = EXCLUDED.size, subtrees = EXCLUDED.subtrees, root_hash = EXCLUDED.root_hash,
      checkpoint_time = EXCLUDED.checkpoint_time, note = EXCLUDED.note, time = EXCLUDED.time`,
} as const;

interface AuditEntryRow {
  seq: string;
  time: string;
  type: string;
  class_uid: number;
  store_id: string | null;
  subject: string | null;
  resource: string | null;
  decision: string | null;
  policy: string | null;
  event: string;
  leaf_hash: Buffer;
}

interface CheckpointRow {
  size: string;
  root_hash: Buffer;
  time: string;
  note: string;
}

interface AuditHeadRow {
  next_seq: string | null;
  c_size: string | null;
  c_root_hash: Buffer | null;
  c_time: string | null;
  c_note: string | null;
  p_size: string | null;
  p_subtrees: Buffer | null;
  p_root_hash: Buffer | null;
  p_checkpoint_time: string | null;
  p_note: string | null;
  p_time: string | null;
}

function auditRow(r: AuditEntryRow): AuditRow {
  return {
    seq: Number(r.seq),
    time: r.time,
    type: r.type,
    classUid: r.class_uid,
    storeId: r.store_id,
    subject: r.subject,
    resource: r.resource,
    decision: r.decision,
    policy: r.policy,
    event: r.event,
    leafHash: r.leaf_hash,
  };
}

function checkpointRow(r: CheckpointRow): AuditCheckpointRow {
  return { size: Number(r.size), rootHash: r.root_hash, time: r.time, note: r.note };
}

function tupleKey(r: TupleRow): TupleKey {
  const key: TupleKey = { object: r.object, relation: r.relation, user: r.subject };
  if (r.condition_name !== null) key.condition = r.condition_context === null ? { name: r.condition_name } : { name: r.condition_name, context: r.condition_context };
  return key;
}

function storeRecord(r: StoreRow): StoreRecord {
  return { id: r.id, name: r.name, createdAt: r.created_at.toISOString(), updatedAt: r.updated_at.toISOString() };
}

function modelRecord(r: ModelRow): ModelRecord {
  return { id: r.id, storeId: r.store_id, model: r.model, createdAt: r.created_at.toISOString() };
}

function apiKeyRecord(r: ApiKeyRow): ApiKeyRecord {
  const rec: ApiKeyRecord = {
    id: r.id,
    name: r.name,
    secretHash: r.secret_hash,
    scopes: r.scopes,
    stores: r.stores,
    createdAt: r.created_at,
    rateLimit: r.rate_limit,
  };
  if (r.revoked_at !== null) rec.revokedAt = r.revoked_at;
  return rec;
}

function storeNotFound(id: string): TenetError {
  return new TenetError("store_not_found", `store '${id}' not found`);
}

const keyString = (k: { object: string; relation: string; subject: string }): string => `${k.object}#${k.relation}@${k.subject}`;

/** Where the database is, for messages: host, port and database, never the password. */
export function describeTarget(connectionString: string): string {
  try {
    const u = new URL(connectionString);
    return `${u.hostname || "localhost"}:${u.port || "5432"}${u.pathname}`;
  } catch {
    return "the configured PostgreSQL server";
  }
}

const UNAVAILABLE_NET = new Set(["ECONNREFUSED", "ECONNRESET", "ENOTFOUND", "EAI_AGAIN", "ETIMEDOUT", "EHOSTUNREACH", "ENETUNREACH", "EPIPE"]);

/**
 * Turns failures of the database (unreachable, refusing writes, damaged) into StorageErrors and
 * text PostgreSQL cannot store into a validation error; passes anything else through.
 */
export function classifyPostgresError(err: unknown, target: string): unknown {
  if (err instanceof StorageError || err instanceof TenetError || err instanceof TupleWriteConflict || err instanceof AuditConflict) return err;
  const code = (err as { code?: unknown }).code;
  const message = err instanceof Error ? err.message : String(err);
  if (typeof code === "string") {
    // 22021: a NUL character or invalid UTF-8 in text; 22P05: not representable in the encoding.
    if (code === "22021" || code === "22P05") {
      return new TenetError("validation_error", "text must not contain NUL characters or characters the database cannot store", { cause: err });
    }
    if (UNAVAILABLE_NET.has(code) || code.startsWith("08") || code.startsWith("28") || code.startsWith("57P") || code === "3D000" || code === "53300") {
      return new StorageError("unavailable", `PostgreSQL at ${target} is unavailable: ${message}`, { cause: err });
    }
    // 25006 read-only transaction (a standby), 42501 insufficient privilege, 53100 disk full.
    if (code === "25006" || code === "42501" || code === "53100") {
      return new StorageError("not_writable", `PostgreSQL at ${target} refuses writes: ${message}`, { cause: err });
    }
    if (code === "XX001" || code === "XX002") return new StorageError("corrupt", `PostgreSQL at ${target} reports damaged data: ${message}`, { cause: err });
  }
  if (/Connection terminated|timeout exceeded when trying to connect|Client has encountered a connection error/i.test(message)) {
    return new StorageError("unavailable", `PostgreSQL at ${target} is unavailable: ${message}`, { cause: err });
  }
  return err;
}

export class PostgresDatastore implements Datastore {
  readonly kind = "postgres" as const;
  private readonly batchSize: number;

  /**
   * Connects and brings the schema up to date. Throws a StorageError when the server cannot be
   * reached, refuses writes, or has a schema migrated by a newer Tenet.
   */
  static async open(opts: PostgresOptions): Promise<PostgresDatastore> {
    if (opts.schema !== undefined && !SCHEMA_NAME.test(opts.schema)) {
      throw new TypeError("schema must be a plain identifier (letters, digits, underscore)");
    }
    const batchSize = opts.allTuplesBatchSize ?? 10_000;
    if (!Number.isInteger(batchSize) || batchSize < 1) throw new TypeError("allTuplesBatchSize must be a positive integer");
    const target = describeTarget(opts.connectionString);
    const config: PoolConfig = {
      connectionString: opts.connectionString,
      max: opts.poolSize ?? 10,
      connectionTimeoutMillis: opts.connectTimeoutMs ?? 10_000,
      application_name: "tenet",
    };
    if (opts.schema !== undefined) config.options = `-c search_path=${opts.schema}`;
    const pool = new Pool(config);
    // An idle connection that breaks (server restart) is dropped by the pool and replaced on the
    // next query; without a listener the 'error' event would crash the process.
    pool.on("error", () => undefined);
    let applied: number[];
    let schema: string;
    try {
      applied = await migratePostgres(pool);
      // Where the migrations put the tables (the schema option, or the URL's search_path).
      schema = (await pool.query<{ schema: string }>(SQL.currentSchema)).rows[0]!.schema;
    } catch (err) {
      await pool.end().catch(() => undefined);
      throw classifyPostgresError(err, target);
    }
    // The change feed's own connections: the same server, its own connection each, found by name.
    const listenConfig: ClientConfig = {
      connectionString: opts.connectionString,
      connectionTimeoutMillis: config.connectionTimeoutMillis,
      application_name: "tenet-listen",
      // So that a connection that silently died (network partition) is noticed and replaced.
      keepAlive: true,
      keepAliveInitialDelayMillis: 10_000,
    };
    return new PostgresDatastore(pool, target, applied, batchSize, changeChannel(schema), listenConfig);
  }

  private readonly subscriptions = new Set<ChangeSubscription>();
  private closed = false;

  private constructor(
    private readonly pool: Pool,
    private readonly target: string,
    /** Migration versions this open applied (empty when the schema was already current). */
    readonly migrationsApplied: readonly number[],
    batchSize: number,
    /** The NOTIFY channel of this schema's tuple writes. */
    readonly changeChannel: string,
    private readonly listenConfig: ClientConfig,
  ) {
    this.batchSize = batchSize;
  }

  /** A query on any pooled connection, as a named (server-side prepared) statement. */
  private async query<R extends QueryResultRow>(name: string, text: string, values: unknown[]): Promise<QueryResult<R>> {
    try {
      return await this.pool.query<R>({ name: `tenet_${name}`, text, values } satisfies QueryConfig);
    } catch (err) {
      throw classifyPostgresError(err, this.target);
    }
  }

  /** Runs `fn` in one transaction on one connection; any error rolls it back. */
  private async transaction<T>(begin: string, fn: (c: PoolClient) => Promise<T>): Promise<T> {
    let c: PoolClient;
    try {
      c = await this.pool.connect();
    } catch (err) {
      throw classifyPostgresError(err, this.target);
    }
    let broken: Error | undefined;
    try {
      await c.query(begin);
      const result = await fn(c);
      await c.query("COMMIT");
      return result;
    } catch (err) {
      await c.query("ROLLBACK").catch((e: Error) => {
        broken = e;
      });
      throw classifyPostgresError(err, this.target);
    } finally {
      // A connection that could not roll back is closed rather than returned to the pool.
      c.release(broken);
    }
  }

  private async requireStore(id: string, c?: PoolClient): Promise<void> {
    const r = c ? await c.query({ name: "tenet_store_exists", text: SQL.storeExists, values: [id] }) : await this.query("store_exists", SQL.storeExists, [id]);
    if (r.rowCount === 0) throw storeNotFound(id);
  }

  // ---- stores ----
  async createStore(name: string): Promise<StoreRecord> {
    const now = new Date().toISOString();
    const record: StoreRecord = { id: ulid(), name, createdAt: now, updatedAt: now };
    await this.query("insert_store", SQL.insertStore, [record.id, name, now]);
    return record;
  }

  async getStore(id: string): Promise<StoreRecord | undefined> {
    const r = await this.query<StoreRow>("get_store", SQL.getStore, [id]);
    const row = r.rows[0];
    return row ? storeRecord(row) : undefined;
  }

  async listStores(page?: PageRequest): Promise<Page<StoreRecord>> {
    const size = pageSize(page);
    const after = decodeKeyset("store", 1, page?.continuationToken);
    const r = await this.query<StoreRow>("list_stores", SQL.listStores, [after?.[0] ?? "", size + 1]);
    return this.page(r.rows.map(storeRecord), size, (s) => encodeKeyset("store", [s.id]));
  }

  async deleteStore(id: string): Promise<boolean> {
    // Models, tuples and changes go with it (ON DELETE CASCADE), in the same statement.
    const r = await this.query("delete_store", SQL.deleteStore, [id]);
    return (r.rowCount ?? 0) > 0;
  }

  // ---- models ----
  async writeModel(storeId: string, model: AuthorizationModel): Promise<ModelRecord> {
    const json = JSON.stringify(model);
    const rec: ModelRecord = { id: ulid(), storeId, model: JSON.parse(json) as AuthorizationModel, createdAt: new Date().toISOString() };
    const r = await this.query("insert_model", SQL.insertModel, [storeId, rec.id, json, rec.createdAt]);
    if (r.rowCount === 0) throw storeNotFound(storeId);
    return rec;
  }

  async getModel(storeId: string, id: string): Promise<ModelRecord | undefined> {
    const row = (await this.query<ModelRow>("get_model", SQL.getModel, [storeId, id])).rows[0];
    if (row) return modelRecord(row);
    await this.requireStore(storeId);
    return undefined;
  }

  async latestModel(storeId: string): Promise<ModelRecord | undefined> {
    const row = (await this.query<ModelRow>("latest_model", SQL.latestModel, [storeId])).rows[0];
    if (row) return modelRecord(row);
    await this.requireStore(storeId);
    return undefined;
  }

  async listModels(storeId: string, page?: PageRequest): Promise<Page<ModelRecord>> {
    await this.requireStore(storeId);
    const size = pageSize(page);
    const before = decodeKeyset("model", 1, page?.continuationToken);
    const r = await this.query<ModelRow>("list_models", SQL.listModels, [storeId, before?.[0] ?? null, size + 1]);
    return this.page(r.rows.map(modelRecord), size, (m) => encodeKeyset("model", [m.id]));
  }

  // ---- tuples ----
  async writeTuples(storeId: string, deletes: TupleKeyWithoutCondition[], writes: TupleKey[]): Promise<number> {
    return this.transaction("BEGIN", async (c) => {
      const bumped = await c.query<{ revision: string }>({ name: "tenet_bump_revision", text: SQL.bumpRevision, values: [storeId, this.changeChannel] });
      const row = bumped.rows[0];
      if (!row) throw storeNotFound(storeId);
      const revision = Number(row.revision);
      const now = new Date().toISOString();
      if (deletes.length > 0) {
        const r = await c.query<KeyRow>({
          name: "tenet_delete_tuples",
          text: SQL.deleteTuples,
          values: [storeId, revision, deletes.map((d) => d.object), deletes.map((d) => d.relation), deletes.map((d) => d.user), now],
        });
        if (r.rows.length < deletes.length) {
          const done = new Set(r.rows.map(keyString));
          // A key missing from the result did not exist (or was named twice in this batch).
          const missing = deletes.find((d) => !done.delete(keyString({ ...d, subject: d.user }))) ?? deletes[0]!;
          throw new TupleWriteConflict("missing", { object: missing.object, relation: missing.relation, user: missing.user });
        }
      }
      if (writes.length > 0) {
        const r = await c.query<KeyRow>({
          name: "tenet_insert_tuples",
          text: SQL.insertTuples,
          values: [
            storeId,
            revision,
            writes.map((w) => w.object),
            writes.map((w) => w.relation),
            writes.map((w) => w.user),
            writes.map((w) => w.condition?.name ?? null),
            writes.map((w) => (w.condition?.context !== undefined ? JSON.stringify(w.condition.context) : null)),
            now,
          ],
        });
        if (r.rows.length < writes.length) {
          const done = new Set(r.rows.map(keyString));
          const existing = writes.find((w) => !done.delete(keyString({ ...w, subject: w.user }))) ?? writes[0]!;
          throw new TupleWriteConflict("exists", { object: existing.object, relation: existing.relation, user: existing.user });
        }
      }
      return revision;
    });
  }

  async readTuples(storeId: string, filter: TupleFilter, page?: PageRequest): Promise<Page<TupleRecord>> {
    await this.requireStore(storeId);
    const size = pageSize(page);
    const after = decodeKeyset("tuple", 3, page?.continuationToken);
    const q = tupleQuery(storeId, filter, after, size + 1, `${TUPLE_COLUMNS}, revision, written_at`);
    if (!q) return { items: [] };
    const r = await this.query<TupleRecordRow>(`read_tuples_${q.shape}`, q.text, q.values);
    const records = r.rows.map((row) => ({ key: tupleKey(row), revision: Number(row.revision), timestamp: row.written_at.toISOString() }));
    return this.page(records, size, (t) => encodeKeyset("tuple", [t.key.object, t.key.relation, t.key.user]));
  }

  /**
   * Streams a store's tuples through a server-side cursor, `allTuplesBatchSize` rows per round
   * trip, from one consistent snapshot (REPEATABLE READ): a million tuples never sit in memory at
   * once, and writes made meanwhile are neither half-seen nor block. Holds one pooled connection
   * until the stream ends or the consumer stops early.
   */
  async *allTuples(storeId: string): AsyncIterable<TupleKey> {
    let c: PoolClient;
    try {
      c = await this.pool.connect();
    } catch (err) {
      throw classifyPostgresError(err, this.target);
    }
    let broken: Error | undefined;
    let open = false;
    try {
      await c.query("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY");
      open = true;
      await this.requireStore(storeId, c);
      await c.query(`DECLARE tenet_all_tuples NO SCROLL CURSOR FOR SELECT ${TUPLE_COLUMNS} FROM tuples WHERE store_id = $1`, [storeId]);
      for (;;) {
        const r = await c.query<TupleRow>(`FETCH FORWARD ${this.batchSize} FROM tenet_all_tuples`);
        for (const row of r.rows) yield tupleKey(row);
        if (r.rows.length < this.batchSize) break;
      }
    } catch (err) {
      throw classifyPostgresError(err, this.target);
    } finally {
      if (open) {
        await c.query("ROLLBACK").catch((e: Error) => {
          broken = e;
        });
      }
      c.release(broken);
    }
  }

  async revision(storeId: string): Promise<number> {
    const row = (await this.query<{ revision: string }>("revision", SQL.revision, [storeId])).rows[0];
    if (!row) throw storeNotFound(storeId);
    return Number(row.revision);
  }

  async readChanges(storeId: string, after: number, opts: { type?: string; limit?: number } = {}): Promise<TupleChange[]> {
    await this.requireStore(storeId);
    // An integer PostgreSQL can parse: revisions are integers, so `> 2.5` is `> 2`.
    const from = Number.isFinite(after) ? Math.max(-1, Math.min(Math.floor(after), Number.MAX_SAFE_INTEGER)) : after > 0 ? Number.MAX_SAFE_INTEGER : -1;
    const limit = opts.limit && opts.limit > 0 ? Math.ceil(opts.limit) : null;
    const type = opts.type ? `${opts.type}:` : null;
    const upper = opts.type ? `${opts.type};` : null;
    const r = await this.query<ChangeRow>("changes", SQL.changes, [storeId, from, type, upper, limit]);
    return r.rows.map((row) => ({ revision: Number(row.revision), operation: row.operation, key: tupleKey(row), timestamp: row.changed_at.toISOString() }));
  }

  // ---- assertions ----
  async writeAssertions(storeId: string, modelId: string, assertions: Assertion[]): Promise<void> {
    let r: QueryResult;
    try {
      r = await this.query("write_assertions", SQL.writeAssertions, [storeId, modelId, JSON.stringify(assertions)]);
    } catch (err) {
      // 23503: the store was deleted between the EXISTS and the foreign key check.
      if ((err as { code?: unknown }).code === "23503") throw storeNotFound(storeId);
      throw err;
    }
    if (r.rowCount === 0) throw storeNotFound(storeId);
  }

  async readAssertions(storeId: string, modelId: string): Promise<Assertion[]> {
    const row = (await this.query<{ assertions: Assertion[] }>("read_assertions", SQL.readAssertions, [storeId, modelId])).rows[0];
    if (row) return row.assertions;
    await this.requireStore(storeId);
    return [];
  }

  // ---- documents ----
  async getDocument<T = unknown>(collection: string, id: string): Promise<DocumentRecord<T> | undefined> {
    const row = (await this.query<DocumentRow>("get_document", SQL.getDocument, [collection, id])).rows[0];
    return row ? documentRecord<T>(collection, row) : undefined;
  }

  async putDocument(collection: string, id: string, body: unknown, expectedVersion: number): Promise<number> {
    const json = JSON.stringify(body);
    if (json === undefined) throw new TypeError("a document body must be JSON");
    const now = new Date().toISOString();
    const r =
      expectedVersion === 0
        ? await this.query("insert_document", SQL.insertDocument, [collection, id, json, now])
        : await this.query("update_document", SQL.updateDocument, [collection, id, json, now, expectedVersion]);
    if (r.rowCount === 0) throw new DocumentConflict(collection, id, expectedVersion);
    return expectedVersion + 1;
  }

  async listDocuments<T = unknown>(collection: string, opts: { prefix?: string; after?: string; limit?: number } = {}): Promise<DocumentRecord<T>[]> {
    const limit = opts.limit && opts.limit > 0 ? Math.ceil(opts.limit) : null;
    const r = await this.query<DocumentRow>("list_documents", SQL.listDocuments, [collection, opts.prefix ?? "", opts.after ?? "", limit]);
    return r.rows.map((row) => documentRecord<T>(collection, row));
  }

  async deleteDocument(collection: string, id: string): Promise<boolean> {
    return ((await this.query("delete_document", SQL.deleteDocument, [collection, id])).rowCount ?? 0) > 0;
  }

  // ---- API keys ----
  async createApiKey(rec: ApiKeyRecord): Promise<void> {
    try {
      await this.query("insert_api_key", SQL.insertApiKey, [
        rec.id,
        rec.name,
        rec.secretHash,
        rec.scopes,
        rec.stores,
        rec.createdAt,
        rec.revokedAt ?? null,
        rec.rateLimit,
      ]);
    } catch (err) {
      if ((err as { code?: unknown }).code === "23505") throw new Error(`API key '${rec.id}' already exists`, { cause: err });
      throw err;
    }
  }

  async getApiKey(id: string): Promise<ApiKeyRecord | undefined> {
    const row = (await this.query<ApiKeyRow>("get_api_key", SQL.getApiKey, [id])).rows[0];
    return row ? apiKeyRecord(row) : undefined;
  }

  async listApiKeys(): Promise<ApiKeyRecord[]> {
    return (await this.query<ApiKeyRow>("list_api_keys", SQL.listApiKeys, [])).rows.map(apiKeyRecord);
  }

  async revokeApiKey(id: string, at: string): Promise<boolean> {
    const r = await this.query("revoke_api_key", SQL.revokeApiKey, [id, at]);
    return (r.rowCount ?? 0) > 0;
  }

  // ---- audit log ----
  /**
   * One transaction under the audit lock: the size read is then the size the rows are inserted
   * at, whichever replica appended last. The primary key on seq is the second line of defence:
   * a writer that skipped the lock still cannot overwrite or duplicate an entry.
   */
  async appendAudit(rows: AuditRow[], checkpoint?: AuditCheckpointRow): Promise<void> {
    checkAuditBatch(rows, checkpoint);
    if (rows.length === 0) {
      if (checkpoint) await this.putAuditCheckpoint(checkpoint);
      return;
    }
    try {
      await this.transaction("BEGIN", async (c) => {
        await c.query({ name: "tenet_lock_audit", text: SQL.lockAudit, values: [AUDIT_LOCK_CLASS] });
        const size = await c.query<{ size: string }>({ name: "tenet_audit_size", text: SQL.auditSize, values: [] });
        checkAuditStart(rows, Number(size.rows[0]!.size));
        await c.query({
          name: "tenet_insert_audit",
          text: SQL.insertAudit,
          values: [
            rows[0]!.seq,
            rows.map((r) => r.time),
            rows.map((r) => r.type),
            rows.map((r) => r.classUid),
            rows.map((r) => r.storeId),
            rows.map((r) => r.subject),
            rows.map((r) => r.resource),
            rows.map((r) => r.decision),
            rows.map((r) => r.policy),
            rows.map((r) => r.event),
            rows.map((r) => r.leafHash),
          ],
        });
        if (checkpoint) await this.storeCheckpoint(c, checkpoint);
      });
    } catch (err) {
      // A unique violation of the primary key: rows were written at these seqs without the lock.
      const e = err as { code?: unknown; constraint?: unknown };
      if (e.code === "23505" && e.constraint === "audit_entries_pkey") {
        const size = await this.query<{ size: string }>("audit_size", SQL.auditSize, []);
        throw new AuditConflict(Number(size.rows[0]!.size), rows[0]!.seq);
      }
      throw err;
    }
  }

  async putAuditCheckpoint(checkpoint: AuditCheckpointRow): Promise<void> {
    checkCheckpoint(checkpoint);
    const r = await this.query("put_audit_checkpoint", SQL.putCheckpoint, [checkpoint.size, checkpoint.rootHash, checkpoint.time, checkpoint.note]);
    if (r.rowCount === 0) throw checkpointFork(checkpoint.size);
  }

  private async storeCheckpoint(c: PoolClient, checkpoint: AuditCheckpointRow): Promise<void> {
    const r = await c.query({ name: "tenet_put_audit_checkpoint", text: SQL.putCheckpoint, values: [checkpoint.size, checkpoint.rootHash, checkpoint.time, checkpoint.note] });
    if (r.rowCount === 0) throw checkpointFork(checkpoint.size);
  }

  async auditHead(): Promise<{ size: number; checkpoint: AuditCheckpointRow | undefined; pruned: AuditPruneRow | undefined }> {
    const r = (await this.query<AuditHeadRow>("audit_head", SQL.auditHead, [])).rows[0]!;
    const checkpoint = r.c_size === null ? undefined : { size: Number(r.c_size), rootHash: r.c_root_hash!, time: r.c_time!, note: r.c_note! };
    const pruned =
      r.p_size === null
        ? undefined
        : {
            size: Number(r.p_size),
            subtrees: splitSubtrees(r.p_subtrees!),
            checkpoint: { size: Number(r.p_size), rootHash: r.p_root_hash!, time: r.p_checkpoint_time!, note: r.p_note! },
            time: r.p_time!,
          };
    return { size: Math.max(Number(r.next_seq ?? 0), pruned?.size ?? 0), checkpoint, pruned };
  }

  async readAudit(fromSeq: number, limit: number): Promise<AuditRow[]> {
    checkReadAudit(fromSeq, limit);
    return (await this.query<AuditEntryRow>("read_audit", SQL.readAudit, [fromSeq, fromSeq + limit])).rows.map(auditRow);
  }

  async readAuditLeaves(fromSeq: number, limit: number): Promise<Array<Pick<AuditRow, "seq" | "leafHash">>> {
    checkReadAudit(fromSeq, limit);
    const res = await this.query<{ seq: string; leaf_hash: Buffer }>("read_audit_leaves", SQL.readAuditLeaves, [fromSeq, fromSeq + limit]);
    return res.rows.map((r) => ({ seq: Number(r.seq), leafHash: r.leaf_hash }));
  }

  async readAuditEvents(fromSeq: number, limit: number): Promise<Array<Pick<AuditRow, "seq" | "event" | "leafHash">>> {
    checkReadAudit(fromSeq, limit);
    const res = await this.query<{ seq: string; event: string; leaf_hash: Buffer }>("read_audit_events", SQL.readAuditEvents, [fromSeq, fromSeq + limit]);
    return res.rows.map((r) => ({ seq: Number(r.seq), event: r.event, leafHash: r.leaf_hash }));
  }

  async queryAudit(q: AuditQuery): Promise<AuditRow[]> {
    checkAuditQuery(q);
    const where: string[] = [];
    const values: unknown[] = [];
    let shape = "";
    for (const [key, column] of AUDIT_FILTERS) {
      const v = q[key];
      shape += v === undefined ? "_" : "f";
      if (v === undefined) continue;
      values.push(v);
      where.push(`${column} = $${values.length}`);
    }
    const bounds: [unknown, string][] = [
      [q.from, "time >="],
      [q.to, "time <"],
      [q.afterSeq, "seq >"],
      [q.beforeSeq, "seq <"],
    ];
    for (const [v, cond] of bounds) {
      shape += v === undefined ? "_" : "b";
      if (v === undefined) continue;
      values.push(v);
      where.push(`${cond} $${values.length}`);
    }
    const order = q.order === "desc" ? "DESC" : "ASC";
    values.push(q.limit);
    const text = `SELECT ${AUDIT_COLUMNS} FROM audit_entries${where.length > 0 ? ` WHERE ${where.join(" AND ")}` : ""} ORDER BY seq ${order} LIMIT $${values.length}`;
    return (await this.query<AuditEntryRow>(`audit_query_${shape}_${order.toLowerCase()}`, text, values)).rows.map(auditRow);
  }

  async listAuditCheckpoints(fromSize: number, limit: number): Promise<AuditCheckpointRow[]> {
    checkListCheckpoints(fromSize, limit);
    return (await this.query<CheckpointRow>("list_audit_checkpoints", SQL.listCheckpoints, [fromSize, limit])).rows.map(checkpointRow);
  }

  async getAuditCheckpoint(size: number): Promise<AuditCheckpointRow | undefined> {
    if (!Number.isSafeInteger(size)) return undefined;
    const row = (await this.query<CheckpointRow>("get_audit_checkpoint", SQL.getCheckpoint, [size])).rows[0];
    return row && checkpointRow(row);
  }

  async pruneAudit(record: AuditPruneRow): Promise<number> {
    checkPruneRecord(record);
    return this.transaction("BEGIN", async (c) => {
      await c.query({ name: "tenet_lock_audit", text: SQL.lockAudit, values: [AUDIT_LOCK_CLASS] });
      const size = await c.query<{ size: string }>({ name: "tenet_audit_size", text: SQL.auditSize, values: [] });
      const pruned = await c.query<{ size: string }>({ name: "tenet_audit_pruned_size", text: SQL.prunedSize, values: [] });
      checkPruneSize(record, Number(size.rows[0]!.size), Number(pruned.rows[0]?.size ?? 0));
      const deleted = await c.query({ name: "tenet_prune_audit_entries", text: SQL.pruneEntries, values: [record.size] });
      await c.query({ name: "tenet_prune_audit_checkpoints", text: SQL.pruneCheckpoints, values: [record.size] });
      const cp = record.checkpoint;
      await c.query({ name: "tenet_put_audit_pruned", text: SQL.putPruned, values: [record.size, joinSubtrees(record.subtrees), cp.rootHash, cp.time, cp.note, record.time] });
      return deleted.rowCount ?? 0;
    });
  }

  // ---- change feed ----
  /**
   * Calls `listener` for every tuple write committed in this schema by any replica (this one
   * included), over a dedicated LISTEN connection that reconnects by itself when it drops. Throws
   * a StorageError if that connection cannot be opened at first.
   */
  async subscribe(listener: (storeId: string, revision: number) => void): Promise<() => Promise<void>> {
    const closed = (): StorageError => new StorageError("unavailable", "the datastore is closed");
    if (this.closed) throw closed();
    const sub = new ChangeSubscription(this.listenConfig, this.changeChannel, listener);
    try {
      await sub.start();
    } catch (err) {
      throw classifyPostgresError(err, this.target);
    }
    if (this.closed) {
      // close() ran while this connected: it did not see this subscription.
      await sub.end();
      throw closed();
    }
    this.subscriptions.add(sub);
    return async () => {
      this.subscriptions.delete(sub);
      await sub.end();
    };
  }

  async close(): Promise<void> {
    this.closed = true;
    const subs = [...this.subscriptions];
    this.subscriptions.clear();
    await Promise.all(subs.map((s) => s.end()));
    if (!this.pool.ended && !this.pool.ending) await this.pool.end();
  }

  /** Cuts `rows` (fetched with one extra row) to a page, with a token when there is more. */
  private page<T>(rows: T[], size: number, token: (last: T) => string): Page<T> {
    if (rows.length <= size) return { items: rows };
    const items = rows.slice(0, size);
    return { items, continuationToken: token(items[size - 1]!) };
  }
}

interface DocumentRow {
  id: string;
  version: number;
  body: unknown;
  created_at: string;
  updated_at: string;
}

function documentRecord<T>(collection: string, r: DocumentRow): DocumentRecord<T> {
  return { collection, id: r.id, version: Number(r.version), body: r.body as T, createdAt: r.created_at, updatedAt: r.updated_at };
}
