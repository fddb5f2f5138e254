/**
 * The policy plane's domain service: stores, models, tuples and queries, over any Datastore.
 * Each store's tuples are loaded once into an in-memory Engine and kept current by this
 * service's writes, so queries never touch the database.
 */
import type { ChangeRecorder } from "../audit/change-recorder.js";
import { TenetError } from "../errors.js";
import type { Assertion, Datastore, ModelRecord, Page, PageRequest, StoreRecord, TupleChange, TupleFilter, TupleRecord } from "../storage/interfaces.js";
import { TupleWriteConflict } from "../storage/interfaces.js";
import { pageOf } from "../storage/paging.js";
import { Engine, type BatchCheckItem, type BatchCheckOutcome, type CheckRequest, type CheckResult, type ExpandRequest, type ListObjectsRequest, type ListUsersRequest } from "./engine/engine.js";
import type { UsersetTreeNode } from "./engine/expand.js";
import { TypeSystem } from "./model/typesystem.js";
import { tupleKeyString, type TupleKey, type TupleKeyWithoutCondition } from "./tuples/tuple.js";
import { validateTuple } from "./tuples/validate.js";

/** OpenFGA's default limit on writes plus deletes in one request. */
export const MAX_TUPLES_PER_WRITE = 100;

export interface WriteRequest {
  writes?: TupleKey[] | undefined;
  deletes?: TupleKeyWithoutCondition[] | undefined;
  modelId?: string | undefined;
  /** "ignore": writing a tuple that already exists (with the same condition) is not an error. */
  onDuplicate?: "error" | "ignore" | undefined;
  /** "ignore": deleting a tuple that does not exist is not an error. */
  onMissing?: "error" | "ignore" | undefined;
}

interface StoreRuntime {
  engine: Engine;
  revision: number;
  /** The newest model's id, cached so queries do not read the database (refreshed on sync). */
  latestModelId: string | undefined;
  /** The compiled model most recently used by a query, and its id (for the synchronous path). */
  lastModel?: { id: string; ts: TypeSystem } | undefined;
}

export class PolicyService {
  private readonly runtimes = new Map<string, Promise<StoreRuntime>>();
  /** The runtimes whose load has finished, for queries answered without a promise. */
  private readonly loaded = new Map<string, StoreRuntime>();
  private readonly typesystems = new Map<string, TypeSystem>();
  private readonly writeLocks = new Map<string, Promise<unknown>>();
  /**
   * Fail closed when this replica loses the database: while syncing, answers are only given if
   * the database was reached within `maxStalenessMs`; otherwise queries fail with a retryable
   * `unavailable` rather than allow from an index that may miss revocations made elsewhere.
   */
  private lastContact = Date.now();
  private maxStalenessMs = Number.POSITIVE_INFINITY;

  constructor(
    private readonly ds: Datastore,
    private readonly opts: { maxTuplesPerWrite?: number; changes?: ChangeRecorder | undefined } = {},
  ) {}

  /** Records a committed change in the audit log (when one is configured). */
  private changed(change: Parameters<ChangeRecorder["record"]>[0]): Promise<void> {
    return this.opts.changes ? this.opts.changes.record(change) : Promise.resolve();
  }

  private assertFresh(): void {
    if (Date.now() - this.lastContact > this.maxStalenessMs) {
      throw new TenetError("unavailable", "this replica has lost contact with the database; retry shortly");
    }
  }

  /** True when the datastore answers (for /readyz). */
  async ready(): Promise<boolean> {
    try {
      await this.ds.listStores({ pageSize: 1 });
      return true;
    } catch {
      return false;
    }
  }

  // ---- stores ----
  async createStore(name: string): Promise<StoreRecord> {
    if (typeof name !== "string" || name.length < 1 || name.length > 64) {
      throw new TenetError("validation_error", "store name must be 1 to 64 characters");
    }
    const store = await this.ds.createStore(name);
    await this.changed({ type: "store.create", activity: "create", storeId: store.id, entity: { type: "store", uid: store.id }, details: { name } });
    return store;
  }

  async getStore(id: string): Promise<StoreRecord> {
    const s = await this.ds.getStore(id);
    if (!s) throw new TenetError("store_not_found", `store '${id}' not found`);
    return s;
  }

  /** Lists stores; with `name`, only those of that name (filtered before paging). */
  async listStores(page?: PageRequest, name?: string): Promise<Page<StoreRecord>> {
    if (name === undefined || name === "") return this.ds.listStores(page);
    const matching: StoreRecord[] = [];
    let token: string | undefined;
    do {
      const p = await this.ds.listStores(token ? { pageSize: 100, continuationToken: token } : { pageSize: 100 });
      matching.push(...p.items.filter((s) => s.name === name));
      token = p.continuationToken;
    } while (token);
    return pageOf(matching, page);
  }

  async deleteStore(id: string): Promise<void> {
    await this.getStore(id);
    await this.ds.deleteStore(id);
    this.unload(id);
    for (const k of this.typesystems.keys()) if (k.startsWith(`${id}/`)) this.typesystems.delete(k);
    await this.changed({ type: "store.delete", activity: "delete", storeId: id, entity: { type: "store", uid: id } });
  }

  // ---- models ----
  /** Validates completely (DSL, JSON text or object) and stores a new model version. */
  async writeModel(storeId: string, input: unknown): Promise<ModelRecord> {
    await this.getStore(storeId);
    const ts = TypeSystem.from(input);
    const rec = await this.ds.writeModel(storeId, ts.model);
    this.typesystems.set(`${storeId}/${rec.id}`, ts);
    const rt = await this.runtime(storeId);
    if (!rt.latestModelId || rec.id > rt.latestModelId) rt.latestModelId = rec.id;
    await this.changed({ type: "model.write", activity: "create", storeId, entity: { type: "authorization_model", uid: rec.id }, details: { types: ts.model.type_definitions.length } });
    return rec;
  }

  async getModel(storeId: string, modelId?: string): Promise<ModelRecord> {
    await this.getStore(storeId);
    const rec = modelId ? await this.ds.getModel(storeId, modelId) : await this.ds.latestModel(storeId);
    if (!rec) {
      throw modelId
        ? new TenetError("model_not_found", `authorization model '${modelId}' not found`)
        : new TenetError("latest_model_not_found", "the store has no authorization model yet: write one first");
    }
    return rec;
  }

  listModels(storeId: string, page?: PageRequest): Promise<Page<ModelRecord>> {
    return this.ds.listModels(storeId, page);
  }

  /**
   * The compiled model for a query: the given one, or the store's newest. Models are immutable,
   * so compiled ones are cached by id and a query touches the database only the first time.
   */
  async typeSystem(storeId: string, modelId?: string): Promise<{ ts: TypeSystem; modelId: string }> {
    this.assertFresh();
    const rt = await this.runtime(storeId);
    const id = modelId ?? rt.latestModelId;
    if (id !== undefined) {
      const cached = this.typesystems.get(`${storeId}/${id}`);
      if (cached) return { ts: cached, modelId: id };
    }
    const rec = await this.getModel(storeId, id);
    const key = `${storeId}/${rec.id}`;
    let ts = this.typesystems.get(key);
    if (!ts) {
      ts = TypeSystem.compile(rec.model);
      this.typesystems.set(key, ts);
    }
    return { ts, modelId: rec.id };
  }

  // ---- assertions ----
  /** The store's latest model, or undefined when it has none yet. */
  async latestTypeSystem(storeId: string): Promise<TypeSystem | undefined> {
    try {
      return (await this.typeSystem(storeId)).ts;
    } catch (err) {
      if (err instanceof TenetError && err.code === "latest_model_not_found") return undefined;
      throw err;
    }
  }

  async writeAssertions(storeId: string, modelId: string, assertions: Assertion[]): Promise<void> {
    await this.getModel(storeId, modelId);
    const { ts } = await this.typeSystem(storeId, modelId);
    for (const a of assertions) {
      for (const t of a.contextual_tuples ?? []) validateTuple(ts, t);
    }
    await this.ds.writeAssertions(storeId, modelId, assertions);
    await this.changed({ type: "assertions.write", activity: "update", storeId, entity: { type: "assertions", uid: modelId }, details: { count: assertions.length } });
  }

  async readAssertions(storeId: string, modelId: string): Promise<Assertion[]> {
    await this.getModel(storeId, modelId);
    return this.ds.readAssertions(storeId, modelId);
  }

  // ---- tuples ----
  /** Validates every tuple, then applies all of them or none. Returns the new revision. */
  async write(storeId: string, req: WriteRequest): Promise<number> {
    if (typeof req !== "object" || req === null) throw new TenetError("validation_error", "a write request must be an object");
    const writes = req.writes ?? [];
    const deletes = req.deletes ?? [];
    if (!Array.isArray(writes) || !Array.isArray(deletes)) throw new TenetError("validation_error", "writes and deletes must be arrays");
    if (writes.length + deletes.length === 0) throw new TenetError("validation_error", "a write needs at least one tuple to write or delete");
    const max = this.opts.maxTuplesPerWrite ?? MAX_TUPLES_PER_WRITE;
    if (writes.length + deletes.length > max) {
      throw new TenetError("validation_error", `at most ${max} tuples may be written or deleted in one request`);
    }
    const { ts } = await this.typeSystem(storeId, req.modelId);
    const seen = new Set<string>();
    const cleanWrites: TupleKey[] = [];
    for (const t of writes) {
      validateTuple(ts, t);
      const k = tupleKeyString(t);
      if (seen.has(k)) throw new TenetError("duplicate_tuple_in_write", `duplicate tuple in one write: '${k}'`);
      seen.add(k);
      const clean: TupleKey = { object: t.object, relation: t.relation, user: t.user };
      if (t.condition) clean.condition = t.condition.context ? { name: t.condition.name, context: t.condition.context } : { name: t.condition.name };
      cleanWrites.push(clean);
    }
    const cleanDeletes: TupleKeyWithoutCondition[] = [];
    for (const t of deletes) {
      if (typeof t?.object !== "string" || typeof t.relation !== "string" || typeof t.user !== "string") {
        throw new TenetError("invalid_tuple", "a delete needs object, relation and user strings");
      }
      const k = tupleKeyString(t);
      if (seen.has(k)) throw new TenetError("duplicate_tuple_in_write", `tuple '${k}' appears more than once in one write`);
      seen.add(k);
      cleanDeletes.push({ object: t.object, relation: t.relation, user: t.user });
    }
    let applied: { w: TupleKey[]; d: TupleKeyWithoutCondition[] } | undefined;
    const revision = await this.serialised(storeId, async () => {
      const rt = await this.runtime(storeId);
      let w = cleanWrites;
      let d = cleanDeletes;
      if (req.onDuplicate === "ignore") {
        w = cleanWrites.filter((t) => {
          const existing = rt.engine.index.get(t);
          if (existing === undefined) return true;
          if (!sameCondition(existing, t.condition)) {
            throw new TenetError("write_conflict", `tuple '${tupleKeyString(t)}' exists with a different condition`);
          }
          return false;
        });
      }
      if (req.onMissing === "ignore") d = cleanDeletes.filter((t) => rt.engine.index.get(t) !== undefined);
      if (w.length + d.length === 0) return rt.revision;
      applied = { w, d };
      return this.apply(storeId, rt, d, w);
    });
    if (applied) {
      await this.changed({ type: "tuples.write", activity: "update", storeId, entity: { type: "tuples", uid: `${storeId}@${revision}` }, details: { revision, writes: applied.w, deletes: applied.d } });
    }
    return revision;
  }

  private async apply(storeId: string, rt: StoreRuntime, cleanDeletes: TupleKeyWithoutCondition[], cleanWrites: TupleKey[]): Promise<number> {
    {
      let revision: number;
      try {
        revision = await this.ds.writeTuples(storeId, cleanDeletes, cleanWrites);
      } catch (err) {
        if (err instanceof TupleWriteConflict) {
          throw new TenetError(
            err.reason === "exists" ? "write_conflict" : "cannot_delete_missing_tuple",
            err.reason === "exists"
              ? `cannot write a tuple which already exists: '${tupleKeyString(err.key)}'`
              : `cannot delete a tuple which does not exist: '${tupleKeyString(err.key)}'`,
          );
        }
        throw err;
      }
      if (revision === rt.revision + 1) {
        for (const d of cleanDeletes) rt.engine.index.remove(d);
        for (const w of cleanWrites) rt.engine.index.add(w);
        rt.revision = revision;
      } else {
        // Another replica wrote in between: replay the change log in order, ours included.
        await this.catchUp(storeId, rt);
      }
      return revision;
    }
  }

  read(storeId: string, filter: TupleFilter, page?: PageRequest): Promise<Page<TupleRecord>> {
    return this.ds.readTuples(storeId, filter, page);
  }

  readChanges(storeId: string, after: number, opts?: { type?: string; limit?: number }): Promise<TupleChange[]> {
    return this.ds.readChanges(storeId, after, opts);
  }

  /** The last revision written before `time` (0 if none): where a change read from `time` starts. */
  async revisionBefore(storeId: string, time: Date): Promise<number> {
    let after = 0;
    for (;;) {
      const page = await this.ds.readChanges(storeId, after, { limit: 1000 });
      if (page.length === 0) return after;
      for (const c of page) {
        if (Date.parse(c.timestamp) >= time.getTime()) return c.revision - 1;
      }
      after = page[page.length - 1]!.revision;
      if (page.length < 1000) return after;
    }
  }

  // ---- queries ----
  /**
   * Loads the store's index and its newest model into memory, so that `checkNow` can answer
   * (a store without a model is loaded all the same).
   */
  async warm(storeId: string): Promise<void> {
    await this.runtime(storeId);
    try {
      await this.typeSystem(storeId);
    } catch (err) {
      if (!(err instanceof TenetError && err.code === "latest_model_not_found")) throw err;
    }
  }

  /**
   * Check, answered without a promise when the store and model are already in memory (nearly
   * always: a decision endpoint calls this first and awaits `check` only when it returns
   * undefined). Fails closed exactly as `check` does.
   */
  checkNow(storeId: string, req: CheckRequest & { modelId?: string | undefined }): CheckResult | undefined {
    this.assertFresh();
    const m = this.inMemory(storeId, req.modelId);
    return m ? m.rt.engine.check(m.ts, req) : undefined;
  }

  async check(storeId: string, req: CheckRequest & { modelId?: string | undefined }): Promise<CheckResult> {
    const now = this.checkNow(storeId, req);
    if (now) return now;
    const { ts } = await this.typeSystem(storeId, req.modelId);
    return (await this.runtime(storeId)).engine.check(ts, req);
  }

  async batchCheck(storeId: string, items: BatchCheckItem[], modelId?: string): Promise<Map<string, BatchCheckOutcome>> {
    this.assertFresh();
    const m = this.inMemory(storeId, modelId);
    if (m) return m.rt.engine.batchCheck(m.ts, items);
    const { ts } = await this.typeSystem(storeId, modelId);
    return (await this.runtime(storeId)).engine.batchCheck(ts, items);
  }

  async expand(storeId: string, req: ExpandRequest & { modelId?: string | undefined }): Promise<UsersetTreeNode> {
    const { ts } = await this.typeSystem(storeId, req.modelId);
    return (await this.runtime(storeId)).engine.expand(ts, req);
  }

  async listObjects(storeId: string, req: ListObjectsRequest & { modelId?: string | undefined }): Promise<string[]> {
    const { ts } = await this.typeSystem(storeId, req.modelId);
    return (await this.runtime(storeId)).engine.listObjects(ts, req);
  }

  async listUsers(storeId: string, req: ListUsersRequest & { modelId?: string | undefined }): Promise<string[]> {
    const { ts } = await this.typeSystem(storeId, req.modelId);
    return (await this.runtime(storeId)).engine.listUsers(ts, req);
  }

  /**
   * Brings the store's index up to date with the change log (writes made by other replicas).
   * Called when a replica is told of a change, periodically as a backstop, and before answering
   * a request that carries a consistency token newer than the index.
   */
  refresh(storeId: string): Promise<number> {
    return this.serialised(storeId, async () => {
      const rt = await this.runtime(storeId);
      await this.catchUp(storeId, rt);
      const latest = await this.ds.latestModel(storeId);
      if (latest && (!rt.latestModelId || latest.id > rt.latestModelId)) rt.latestModelId = latest.id;
      return rt.revision;
    });
  }

  /** Size and freshness of each loaded index (for metrics). */
  async indexStats(): Promise<Array<{ storeId: string; tuples: number; revision: number }>> {
    const out = [];
    for (const [storeId, p] of this.runtimes) {
      try {
        const rt = await p;
        out.push({ storeId, tuples: rt.engine.index.size, revision: rt.revision });
      } catch {
        // a store that failed to load has no index to report
      }
    }
    return out;
  }

  /** Stores whose index is loaded in this process. */
  loadedStores(): string[] {
    return [...this.runtimes.keys()];
  }

  /**
   * Keeps loaded indexes current with writes made by other replicas: applies the change log on
   * every notification from the feed, and every `pollMs` as a backstop for lost notifications.
   * A store deleted elsewhere is dropped. Returns a function that stops syncing.
   */
  async startSync(opts: { pollMs: number; maxStalenessMs?: number; onError?: (err: unknown) => void }): Promise<() => Promise<void>> {
    const onError = opts.onError ?? (() => undefined);
    this.maxStalenessMs = opts.maxStalenessMs ?? Math.max(3 * opts.pollMs, 3000);
    this.lastContact = Date.now();
    const sync = (storeId: string, revision?: number) => {
      const rt = this.runtimes.get(storeId);
      if (!rt) return;
      void rt
        .then(async (r) => {
          if (revision !== undefined && r.revision >= revision) return;
          if (!(await this.ds.getStore(storeId))) {
            this.unload(storeId);
            return;
          }
          await this.refresh(storeId);
        })
        .catch(onError);
    };
    const unsubscribe = await this.ds.subscribe((storeId, revision) => sync(storeId, revision));
    let probing = false;
    const timer = setInterval(() => {
      if (!probing) {
        probing = true;
        void this.ready().then((ok) => {
          probing = false;
          if (ok) this.lastContact = Date.now();
        });
      }
      for (const id of this.loadedStores()) sync(id);
    }, opts.pollMs);
    timer.unref();
    return async () => {
      clearInterval(timer);
      await unsubscribe();
    };
  }

  /**
   * The in-memory index's revision and newest model of a loaded store, synchronously (undefined
   * before its first load): what a reused decision's relationships were read at.
   */
  revisionNow(storeId: string): string | undefined {
    const rt = this.loaded.get(storeId);
    return rt ? `${rt.revision}/${rt.latestModelId ?? "-"}` : undefined;
  }

  /** The revision the in-memory index reflects (0 before any write). */
  async indexRevision(storeId: string): Promise<number> {
    return (await this.runtime(storeId)).revision;
  }

  /**
   * Waits until the index reflects at least `revision`, refreshing from storage; false on
   * timeout. A revision the store has never reached is a caller's mistake, refused at once.
   */
  async waitForRevision(storeId: string, revision: number, timeoutMs = 1000): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    if ((await this.runtime(storeId)).revision >= revision) return true;
    if ((await this.ds.revision(storeId)) < revision) {
      throw new TenetError("invalid_consistency_token", `consistency token ${revision} is newer than any write to this store`);
    }
    for (;;) {
      const now = await this.refresh(storeId);
      if (now >= revision) return true;
      if (Date.now() >= deadline) return false;
      await new Promise((r) => setTimeout(r, 10));
    }
  }

  private async catchUp(storeId: string, rt: StoreRuntime): Promise<void> {
    for (;;) {
      const limit = 10_000;
      let changes = await this.ds.readChanges(storeId, rt.revision, { limit });
      if (changes.length === 0) return;
      if (changes.length === limit) {
        // A full page may end part-way through a revision: apply only whole revisions
        // (one write holds at most MAX_TUPLES_PER_WRITE changes, far below the page size).
        const last = changes[changes.length - 1]!.revision;
        changes = changes.filter((c) => c.revision !== last);
      }
      for (const c of changes) {
        if (c.operation === "write") rt.engine.index.add(c.key);
        else rt.engine.index.remove(c.key);
        rt.revision = c.revision;
      }
    }
  }

  /** The store's engine, loading its tuples from storage on first use. */
  private runtime(storeId: string): Promise<StoreRuntime> {
    let rt = this.runtimes.get(storeId);
    if (!rt) {
      rt = (async () => {
        await this.getStore(storeId);
        const engine = new Engine();
        // The revision is read before the tuples: replaying changes the snapshot already holds
        // is harmless (adds and removes are idempotent and applied in order).
        const revision = await this.ds.revision(storeId);
        const latest = await this.ds.latestModel(storeId);
        for await (const t of this.ds.allTuples(storeId)) engine.index.add(t);
        const loaded: StoreRuntime = { engine, revision, latestModelId: latest?.id };
        // Unless the store was deleted (or its load superseded) meanwhile.
        if (this.runtimes.get(storeId) === rt) this.loaded.set(storeId, loaded);
        return loaded;
      })();
      rt.catch(() => {
        if (this.runtimes.get(storeId) === rt) this.unload(storeId);
      });
      this.runtimes.set(storeId, rt);
    }
    return rt;
  }

  private unload(storeId: string): void {
    this.runtimes.delete(storeId);
    this.loaded.delete(storeId);
  }

  /**
   * The loaded runtime and compiled model for a query, synchronously: undefined when either is
   * not in memory yet (the first query of a store or model), which the async path then loads.
   */
  private inMemory(storeId: string, modelId: string | undefined): { rt: StoreRuntime; ts: TypeSystem } | undefined {
    const rt = this.loaded.get(storeId);
    if (!rt) return undefined;
    const id = modelId ?? rt.latestModelId;
    if (id === undefined) return undefined;
    const last = rt.lastModel;
    if (last !== undefined && last.id === id) return { rt, ts: last.ts };
    const ts = this.typesystems.get(`${storeId}/${id}`);
    if (!ts) return undefined;
    rt.lastModel = { id, ts };
    return { rt, ts };
  }

  /** Writes to one store are applied one at a time so the index follows storage order. */
  private serialised<T>(storeId: string, fn: () => Promise<T>): Promise<T> {
    const prev = this.writeLocks.get(storeId) ?? Promise.resolve();
    const next = prev.then(fn, fn);
    this.writeLocks.set(storeId, next.catch(() => undefined));
    return next;
  }
}

function sameCondition(a: TupleKey["condition"] | null, b: TupleKey["condition"]): boolean {
  if (!a || !b) return !a && !b;
  return a.name === b.name && JSON.stringify(a.context ?? {}) === JSON.stringify(b.context ?? {});
}
