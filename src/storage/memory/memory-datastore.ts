/**
 * In-memory Datastore: the reference implementation of the storage contract, used by tests and
 * by `tenet test`. Writes are atomic because they are validated completely before any change.
 */
import { TenetError } from "../../errors.js";
import type { ApiKeyRecord } from "../../identity/api-keys/api-key.js";
import type { AuthorizationModel } from "../../policy/model/types.js";
import { tupleKeyString, type TupleKey, type TupleKeyWithoutCondition } from "../../policy/tuples/tuple.js";
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
  copyCheckpoint,
  sameHash,
} from "../audit-rows.js";
import {
  type Assertion,
  type AuditCheckpointRow,
  type AuditPruneRow,
  type AuditQuery,
  type AuditRow,
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
import { matchesFilter, pageOf } from "../paging.js";
import { LocalChangeFeed } from "./local-change-feed.js";

interface StoreState {
  record: StoreRecord;
  models: ModelRecord[];
  tuples: Map<string, TupleRecord>;
  changes: TupleChange[];
  revision: number;
  /** Per model id. */
  assertions: Map<string, Assertion[]>;
}

/** A copy whose bytes are the caller's no longer. */
function copyAuditRow(r: AuditRow): AuditRow {
  return { ...r, leafHash: new Uint8Array(r.leafHash) };
}

function copyPruneRow(p: AuditPruneRow): AuditPruneRow {
  return { size: p.size, subtrees: p.subtrees.map((s) => new Uint8Array(s)), checkpoint: copyCheckpoint(p.checkpoint), time: p.time };
}

/** Newest first: by creation time (ISO 8601 strings sort by time), then by id. */
function compareApiKeys(a: ApiKeyRecord, b: ApiKeyRecord): number {
  if (a.createdAt !== b.createdAt) return a.createdAt < b.createdAt ? 1 : -1;
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}

/** A copy of a key record, with no `revokedAt` key at all while the key is active. */
function copyApiKey(rec: ApiKeyRecord): ApiKeyRecord {
  const { revokedAt, ...rest } = rec;
  const copy: ApiKeyRecord = { ...rest, scopes: [...rec.scopes], stores: [...rec.stores] };
  if (revokedAt !== undefined) copy.revokedAt = revokedAt;
  return copy;
}

export class MemoryDatastore implements Datastore {
  readonly kind = "memory" as const;
  private readonly stores = new Map<string, StoreState>();
  private readonly apiKeys = new Map<string, ApiKeyRecord>();
  /** collection → id → record (bodies kept as JSON text, so callers never share objects). */
  private readonly documents = new Map<string, Map<string, { version: number; body: string; createdAt: string; updatedAt: string }>>();
  private readonly feed = new LocalChangeFeed();
  /** The audit entries not pruned, in seq order: `auditEntries[i].seq === auditStart + i`. */
  private auditEntries: AuditRow[] = [];
  private auditStart = 0;
  private readonly auditCheckpoints = new Map<number, AuditCheckpointRow>();
  private auditPruned: AuditPruneRow | undefined;

  private state(storeId: string): StoreState {
    const s = this.stores.get(storeId);
    if (!s) throw new TenetError("store_not_found", `store '${storeId}' not found`);
    return s;
  }

  async createStore(name: string): Promise<StoreRecord> {
    const now = new Date().toISOString();
    const record = { id: ulid(), name, createdAt: now, updatedAt: now };
    this.stores.set(record.id, { record, models: [], tuples: new Map(), changes: [], revision: 0, assertions: new Map() });
    return { ...record };
  }

  async getStore(id: string): Promise<StoreRecord | undefined> {
    const s = this.stores.get(id);
    return s ? { ...s.record } : undefined;
  }

  async listStores(page?: PageRequest): Promise<Page<StoreRecord>> {
    return pageOf([...this.stores.values()].map((s) => ({ ...s.record })), page);
  }

  async deleteStore(id: string): Promise<boolean> {
    return this.stores.delete(id);
  }

  async writeModel(storeId: string, model: AuthorizationModel): Promise<ModelRecord> {
    const s = this.state(storeId);
    const rec: ModelRecord = { id: ulid(), storeId, model: structuredClone(model), createdAt: new Date().toISOString() };
    s.models.push(rec);
    return rec;
  }

  async getModel(storeId: string, id: string): Promise<ModelRecord | undefined> {
    return this.state(storeId).models.find((m) => m.id === id);
  }

  async latestModel(storeId: string): Promise<ModelRecord | undefined> {
    const m = this.state(storeId).models;
    return m[m.length - 1];
  }

  async listModels(storeId: string, page?: PageRequest): Promise<Page<ModelRecord>> {
    return pageOf([...this.state(storeId).models].reverse(), page);
  }

  async writeTuples(storeId: string, deletes: TupleKeyWithoutCondition[], writes: TupleKey[]): Promise<number> {
    const s = this.state(storeId);
    const deleting = new Set<string>();
    for (const d of deletes) {
      const k = tupleKeyString(d);
      if (!s.tuples.has(k)) throw new TupleWriteConflict("missing", d);
      deleting.add(k);
    }
    for (const w of writes) {
      const k = tupleKeyString(w);
      if (s.tuples.has(k) && !deleting.has(k)) throw new TupleWriteConflict("exists", w);
    }
    const revision = ++s.revision;
    const timestamp = new Date().toISOString();
    for (const d of deletes) {
      const k = tupleKeyString(d);
      const old = s.tuples.get(k)!;
      s.tuples.delete(k);
      s.changes.push({ revision, operation: "delete", key: old.key, timestamp });
    }
    for (const w of writes) {
      const key = structuredClone(w);
      s.tuples.set(tupleKeyString(w), { key, revision, timestamp });
      s.changes.push({ revision, operation: "write", key, timestamp });
    }
    this.feed.publish(storeId, revision);
    return revision;
  }

  async readTuples(storeId: string, filter: TupleFilter, page?: PageRequest): Promise<Page<TupleRecord>> {
    const all = [...this.state(storeId).tuples.values()].filter((t) => matchesFilter(t.key, filter));
    return pageOf(all, page);
  }

  async *allTuples(storeId: string): AsyncIterable<TupleKey> {
    for (const t of this.state(storeId).tuples.values()) yield t.key;
  }

  async revision(storeId: string): Promise<number> {
    return this.state(storeId).revision;
  }

  async readChanges(storeId: string, after: number, opts: { type?: string; limit?: number } = {}): Promise<TupleChange[]> {
    const out: TupleChange[] = [];
    for (const c of this.state(storeId).changes) {
      if (c.revision <= after) continue;
      if (opts.type && !c.key.object.startsWith(`${opts.type}:`)) continue;
      out.push(c);
      if (opts.limit && out.length >= opts.limit) break;
    }
    return out;
  }

  // ---- assertions ----
  async writeAssertions(storeId: string, modelId: string, assertions: Assertion[]): Promise<void> {
    // A JSON round trip, as the SQL adapters store them: what is read is what JSON can carry.
    this.state(storeId).assertions.set(modelId, JSON.parse(JSON.stringify(assertions)) as Assertion[]);
  }

  async readAssertions(storeId: string, modelId: string): Promise<Assertion[]> {
    const a = this.state(storeId).assertions.get(modelId);
    return a ? structuredClone(a) : [];
  }

  // ---- API keys ----
  async createApiKey(rec: ApiKeyRecord): Promise<void> {
    if (this.apiKeys.has(rec.id)) throw new Error(`API key '${rec.id}' already exists`);
    this.apiKeys.set(rec.id, copyApiKey(rec));
  }

  async getApiKey(id: string): Promise<ApiKeyRecord | undefined> {
    const rec = this.apiKeys.get(id);
    return rec ? copyApiKey(rec) : undefined;
  }

  async listApiKeys(): Promise<ApiKeyRecord[]> {
    return [...this.apiKeys.values()].sort(compareApiKeys).map(copyApiKey);
  }

  async revokeApiKey(id: string, at: string): Promise<boolean> {
    const rec = this.apiKeys.get(id);
    if (!rec || rec.revokedAt !== undefined) return false;
    rec.revokedAt = at;
    return true;
  }

  // ---- change feed ----
  /** Listeners are called synchronously after each tuple write of this datastore. */
  subscribe(listener: (storeId: string, revision: number) => void): Promise<() => Promise<void>> {
    return this.feed.subscribe(listener);
  }

  async close(): Promise<void> {
    this.feed.clear();
  }

  // ---- documents ----
  async getDocument<T = unknown>(collection: string, id: string): Promise<DocumentRecord<T> | undefined> {
    const d = this.documents.get(collection)?.get(id);
    return d ? { collection, id, version: d.version, body: JSON.parse(d.body) as T, createdAt: d.createdAt, updatedAt: d.updatedAt } : undefined;
  }

  async putDocument(collection: string, id: string, body: unknown, expectedVersion: number): Promise<number> {
    let coll = this.documents.get(collection);
    const current = coll?.get(id);
    if ((current?.version ?? 0) !== expectedVersion) throw new DocumentConflict(collection, id, expectedVersion);
    const now = new Date().toISOString();
    const json = JSON.stringify(body);
    if (json === undefined) throw new TypeError("a document body must be JSON");
    if (!coll) this.documents.set(collection, (coll = new Map()));
    const version = expectedVersion + 1;
    coll.set(id, { version, body: json, createdAt: current?.createdAt ?? now, updatedAt: now });
    return version;
  }

  async listDocuments<T = unknown>(collection: string, opts: { prefix?: string; after?: string; limit?: number } = {}): Promise<DocumentRecord<T>[]> {
    const coll = this.documents.get(collection);
    if (!coll) return [];
    const ids = [...coll.keys()].filter((id) => (opts.prefix === undefined || id.startsWith(opts.prefix)) && (opts.after === undefined || id > opts.after)).sort();
    const out: DocumentRecord<T>[] = [];
    for (const id of ids.slice(0, opts.limit ?? ids.length)) out.push((await this.getDocument<T>(collection, id))!);
    return out;
  }

  async deleteDocument(collection: string, id: string): Promise<boolean> {
    return this.documents.get(collection)?.delete(id) ?? false;
  }

  // ---- audit log ----
  private get auditSize(): number {
    return this.auditStart + this.auditEntries.length;
  }

  async appendAudit(rows: AuditRow[], checkpoint?: AuditCheckpointRow): Promise<void> {
    checkAuditBatch(rows, checkpoint);
    checkAuditStart(rows, this.auditSize);
    // Checked before anything changes: a refused checkpoint stores none of the rows either.
    if (checkpoint) this.checkNoFork(checkpoint);
    for (const r of rows) this.auditEntries.push(copyAuditRow(r));
    if (checkpoint) this.auditCheckpoints.set(checkpoint.size, copyCheckpoint(checkpoint));
  }

  async putAuditCheckpoint(checkpoint: AuditCheckpointRow): Promise<void> {
    checkCheckpoint(checkpoint);
    this.checkNoFork(checkpoint);
    this.auditCheckpoints.set(checkpoint.size, copyCheckpoint(checkpoint));
  }

  private checkNoFork(c: AuditCheckpointRow): void {
    const stored = this.auditCheckpoints.get(c.size);
    if (stored && !sameHash(stored.rootHash, c.rootHash)) throw checkpointFork(c.size);
  }

  async auditHead(): Promise<{ size: number; checkpoint: AuditCheckpointRow | undefined; pruned: AuditPruneRow | undefined }> {
    let latest: AuditCheckpointRow | undefined;
    for (const c of this.auditCheckpoints.values()) if (!latest || c.size > latest.size) latest = c;
    return {
      size: this.auditSize,
      checkpoint: latest && copyCheckpoint(latest),
      pruned: this.auditPruned && copyPruneRow(this.auditPruned),
    };
  }

  async readAudit(fromSeq: number, limit: number): Promise<AuditRow[]> {
    checkReadAudit(fromSeq, limit);
    const from = Math.max(fromSeq, this.auditStart) - this.auditStart;
    const to = fromSeq + limit - this.auditStart;
    return this.auditEntries.slice(from, Math.max(from, to)).map(copyAuditRow);
  }

  readAuditLeaves(fromSeq: number, limit: number): Promise<Array<Pick<AuditRow, "seq" | "leafHash">>> {
    return this.readAudit(fromSeq, limit);
  }

  readAuditEvents(fromSeq: number, limit: number): Promise<Array<Pick<AuditRow, "seq" | "event" | "leafHash">>> {
    return this.readAudit(fromSeq, limit);
  }

  async queryAudit(q: AuditQuery): Promise<AuditRow[]> {
    checkAuditQuery(q);
    const matches = (r: AuditRow): boolean =>
      (q.from === undefined || r.time >= q.from) && (q.to === undefined || r.time < q.to) && AUDIT_FILTERS.every(([key]) => q[key] === undefined || r[key] === q[key]);
    // Indexes into auditEntries, bounds included, from the keyset bounds.
    const lo = Math.max(0, (q.afterSeq ?? -1) + 1 - this.auditStart);
    const hi = Math.min(this.auditEntries.length, (q.beforeSeq ?? Number.MAX_SAFE_INTEGER) - this.auditStart) - 1;
    const out: AuditRow[] = [];
    const desc = q.order === "desc";
    for (let i = desc ? hi : lo; (desc ? i >= lo : i <= hi) && out.length < q.limit; i += desc ? -1 : 1) {
      const r = this.auditEntries[i]!;
      if (matches(r)) out.push(copyAuditRow(r));
    }
    return out;
  }

  async listAuditCheckpoints(fromSize: number, limit: number): Promise<AuditCheckpointRow[]> {
    checkListCheckpoints(fromSize, limit);
    return [...this.auditCheckpoints.values()]
      .filter((c) => c.size >= fromSize)
      .sort((a, b) => a.size - b.size)
      .slice(0, limit)
      .map(copyCheckpoint);
  }

  async getAuditCheckpoint(size: number): Promise<AuditCheckpointRow | undefined> {
    const c = this.auditCheckpoints.get(size);
    return c && copyCheckpoint(c);
  }

  async pruneAudit(record: AuditPruneRow): Promise<number> {
    checkPruneRecord(record);
    checkPruneSize(record, this.auditSize, this.auditPruned?.size ?? 0);
    const deleted = Math.max(0, record.size - this.auditStart);
    this.auditEntries = this.auditEntries.slice(deleted);
    this.auditStart += deleted;
    for (const size of this.auditCheckpoints.keys()) if (size < record.size) this.auditCheckpoints.delete(size);
    this.auditPruned = copyPruneRow(record);
    return deleted;
  }
}
