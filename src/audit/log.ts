/**
 * The audit log: an append-only RFC 6962 Merkle log over the storage's audit tables.
 *
 * - **Group commit.** `append` queues the event and resolves once the batch it joined is committed
 *   (one transaction for every event that arrived while earlier batches were being written), so
 *   throughput grows with load instead of paying one transaction per event. Single-writer logs
 *   keep up to PIPELINE_DEPTH batches in storage's hands at once.
 * - **Fail closed.** `append` rejects unless the entry is durably stored: callers (the decision
 *   point) answer nothing before it resolves. A failed commit rejects its whole batch, puts the
 *   log in a failed state (reported by `status` and `onFailure`) and reloads the head from
 *   storage before the next batch, so memory never runs ahead of what is stored. A queue past
 *   `maxQueue` rejects at once (back-pressure, not unbounded memory).
 * - **Checkpoints.** After a batch that crosses a multiple of `checkpointEvery` entries, or when
 *   `checkpointIntervalMs` has passed since the last one, the tree head is signed (a C2SP signed
 *   note) and stored in the same transaction as the batch (or, when an event writer builds the
 *   rows on another thread, right behind it once its leaf hashes are back); a timer signs a
 *   quiet log's tail.
 * - **Only one writer.** Sequence numbers come from the in-memory head; a batch whose first seq
 *   is not the stored size is refused by the storage (AuditConflict): another writer, or rows
 *   inserted behind the log's back. The log then fails closed and reports it; it does not adopt
 *   rows it did not write until it is reopened (and then `verify` says whether they are signed).
 */
import { TenetError } from "../errors.js";
import { AuditConflict, type AuditBackend, type AuditCheckpointRow, type AuditQuery, type AuditRow } from "../storage/interfaces.js";
import type { AuditEventInput } from "./events.js";
import { auditRows, type EventBatch } from "./rows.js";
import { sameHash } from "./merkle.js";
import { Tree } from "./tree.js";

/** Signs tree heads (the checkpoint note). */
export interface CheckpointSigner {
  sign(head: { size: number; rootHash: Uint8Array }): string;
}

export interface AuditLogOptions {
  backend: AuditBackend;
  signer: CheckpointSigner;
  /** Sign a checkpoint at least every this many entries (default 1000). */
  checkpointEvery?: number;
  /** ...and at least this often while entries arrive (ms, default 5000). */
  checkpointIntervalMs?: number;
  /** Most events per transaction (default 2000). */
  maxBatch?: number;
  /** Most events waiting; beyond, append rejects at once (default 100,000). */
  maxQueue?: number;
  now?: () => number;
  /** A commit failed (the batch was rejected): for logs and metrics. */
  onFailure?: (err: unknown) => void;
  /**
   * Replicas append to the same log (PostgreSQL): a batch that meets another writer's entries
   * takes them in and is retried at the next seqs. Otherwise (SQLite, one process) rows the log
   * did not write are refused as tampering.
   */
  sharedWriters?: boolean;
  /**
   * Stores batches of events building their rows itself, on another thread (SQLite's writer
   * thread): serialising and hashing ~2 KB per event leave the thread that decides. The log then
   * signs a due checkpoint once the batch's leaf hashes are back, and stores it right behind it.
   * Single-writer logs only.
   */
  eventWriter?: AuditEventWriter | undefined;
}

/** See AuditLogOptions.eventWriter. Resolves with the batch's leaf hashes, in order. */
export interface AuditEventWriter {
  appendAuditEvents(batch: EventBatch): Promise<Uint8Array[]>;
}

export interface AuditLogStatus {
  size: number;
  checkpointSize: number;
  queued: number;
  /** False after a failed commit until a batch commits again. */
  healthy: boolean;
  failures: number;
  lastError: string | undefined;
  batches: number;
}

/** A head (size and root) and the batches sent to storage after it, in order. */
interface Unconfirmed {
  size: number;
  root: Uint8Array;
  batches: EventBatch[];
  /** Events in `batches`. */
  count: number;
}

interface Waiting {
  input: AuditEventInput;
  resolve: (r: { seq: number; time: string }) => void;
  reject: (err: unknown) => void;
}

const PRUNE_STEP = 20_000;
const MAX_CONFLICT_RETRIES = 20;
/**
 * Batches sent to storage before the first is confirmed (single-writer logs). With several in
 * flight the next batch is handed over while earlier ones commit: neither the event loop nor the
 * SQLite writer thread waits for the other (measured: 2 → 20k, 4 → 23-24k audited decisions/s;
 * 8 no better). Storage refuses a batch that does not start at its size, so a batch whose
 * predecessor failed can never land.
 */
const PIPELINE_DEPTH = 4;

export class AuditLog {
  private readonly backend: AuditBackend;
  private readonly signer: CheckpointSigner;
  private readonly every: number;
  private readonly intervalMs: number;
  private readonly maxBatch: number;
  private readonly maxQueue: number;
  private readonly now: () => number;
  private readonly onFailure: (err: unknown) => void;
  private readonly sharedWriters: boolean;
  private tree: Tree;
  private lastCheckpoint: AuditCheckpointRow | undefined;
  private lastCheckpointAt: number;
  private queue: Waiting[] = [];
  /** A pump is scheduled for the next turn of the event loop. */
  private scheduled = false;
  /** Batches handed to storage and not yet settled. */
  private pending = 0;
  /** Set by a failed commit: the head before it and the batch's leaf hashes, to check what landed. */
  private unsure: Unconfirmed | undefined;
  /** While batches are in flight: the last confirmed head and the leaf hashes sent after it. */
  private unconfirmed: Unconfirmed | undefined;
  private inFlight = 0;
  /** Checkpoints signed for a batch and not yet stored (event-writer mode). */
  private checkpointWrites = 0;
  private readonly eventWriter: AuditEventWriter | undefined;
  /** The latest checkpoint signed for a batch (it may still be in flight), for when the next is due. */
  private signedSize: number;
  private closed = false;
  private lastTime = 0;
  private timer: NodeJS.Timeout | undefined;
  private readonly listeners = new Set<() => void>();
  private readonly stats = { failures: 0, lastError: undefined as string | undefined, batches: 0, healthy: true };

  private constructor(opts: AuditLogOptions, tree: Tree, checkpoint: AuditCheckpointRow | undefined) {
    this.backend = opts.backend;
    this.signer = opts.signer;
    this.every = positive(opts.checkpointEvery, 1000, "checkpointEvery");
    this.intervalMs = positive(opts.checkpointIntervalMs, 5000, "checkpointIntervalMs");
    this.maxBatch = positive(opts.maxBatch, 2000, "maxBatch");
    this.maxQueue = positive(opts.maxQueue, 100_000, "maxQueue");
    this.now = opts.now ?? Date.now;
    this.onFailure = opts.onFailure ?? (() => undefined);
    this.sharedWriters = opts.sharedWriters ?? false;
    this.eventWriter = opts.eventWriter;
    if (this.eventWriter && this.sharedWriters) throw new TypeError("eventWriter is for single-writer logs");
    this.tree = tree;
    this.lastCheckpoint = checkpoint;
    this.lastCheckpointAt = this.now();
    this.signedSize = checkpoint?.size ?? 0;
  }

  /** Loads the stored log (rebuilding its tree) and starts the checkpoint timer. */
  static async open(opts: AuditLogOptions): Promise<AuditLog> {
    const { tree, checkpoint } = await loadTree(opts.backend);
    const log = new AuditLog(opts, tree, checkpoint);
    log.timer = setInterval(() => log.tick(), Math.min(log.intervalMs, 1000));
    log.timer.unref();
    return log;
  }

  get size(): number {
    return this.tree.size;
  }

  /** The latest signed checkpoint. */
  get checkpoint(): AuditCheckpointRow | undefined {
    return this.lastCheckpoint;
  }

  status(): AuditLogStatus {
    return {
      size: this.tree.size,
      checkpointSize: this.lastCheckpoint?.size ?? 0,
      queued: this.queue.length,
      healthy: this.stats.healthy,
      failures: this.stats.failures,
      lastError: this.stats.lastError,
      batches: this.stats.batches,
    };
  }

  /** Resolves with the entry's sequence number once it is durably stored; rejects otherwise. */
  append(input: AuditEventInput): Promise<{ seq: number; time: string }> {
    if (this.closed) return Promise.reject(new TenetError("audit_unavailable", "the audit log is closed"));
    if (this.queue.length >= this.maxQueue) {
      const err = new TenetError("audit_unavailable", `the audit log has ${this.queue.length} events waiting to be stored; retry`);
      this.onFailure(err);
      return Promise.reject(err);
    }
    return new Promise((resolve, reject) => {
      this.queue.push({ input, resolve, reject });
      // The first event of a burst waits one turn of the event loop, so the burst shares a batch.
      this.schedule();
    });
  }

  /** Called (synchronously, after commit) whenever entries were appended: exporters tail the log. */
  onAppend(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  readAudit(fromSeq: number, limit: number): Promise<AuditRow[]> {
    return this.backend.readAudit(fromSeq, limit);
  }

  queryAudit(q: AuditQuery): Promise<AuditRow[]> {
    return this.backend.queryAudit(q);
  }

  /** RFC 9162 inclusion proof of entry `seq` in the tree of `size` entries. */
  inclusionProof(seq: number, size: number): Uint8Array[] {
    return this.tree.inclusionProof(seq, size);
  }

  /** RFC 9162 consistency proof between the trees of `first` and `second` entries. */
  consistencyProof(first: number, second: number): Uint8Array[] {
    return this.tree.consistencyProof(first, second);
  }

  rootAt(size: number): Uint8Array {
    return this.tree.rootAt(size);
  }

  /** Signs and stores a checkpoint of everything appended so far (if not signed yet). */
  async checkpointNow(): Promise<AuditCheckpointRow | undefined> {
    await this.idle();
    if (this.tree.size === (this.lastCheckpoint?.size ?? 0) && this.lastCheckpoint) return this.lastCheckpoint;
    if (this.tree.size === 0) return undefined;
    const cp = this.sign();
    await this.backend.putAuditCheckpoint(cp);
    this.lastCheckpoint = cp;
    this.lastCheckpointAt = this.now();
    this.signedSize = Math.max(this.signedSize, cp.size);
    return cp;
  }

  /**
   * Retention: deletes the entries older than `before` (by their time). What is left stays
   * verifiable: the pruned prefix is summarised by the roots of the perfect subtrees that covered
   * it and by a checkpoint signed at exactly that size. `notPast`: never prune entries from this
   * seq on (what an export sink has not delivered yet). Returns how many entries were deleted.
   */
  async prune(before: Date, notPast?: number): Promise<number> {
    await this.idle();
    const cutoff = before.toISOString();
    // The first entry at or after the cutoff: entries are appended in time order.
    const [first] = await this.backend.queryAudit({ from: cutoff, order: "asc", limit: 1 });
    const target = Math.min(first ? first.seq : this.tree.size, notPast ?? Number.POSITIVE_INFINITY);
    let deleted = 0;
    // In steps, each its own transaction under its own checkpoint: a large prune never holds the
    // database (or, with SQLite, the process) for long, and stopping half way leaves a valid log.
    const head = await this.backend.auditHead();
    for (let size = head.pruned?.size ?? 0; size < target; ) {
      size = Math.min(target, size + PRUNE_STEP);
      const rootHash = this.tree.rootAt(size);
      const time = new Date(this.now()).toISOString();
      const checkpoint: AuditCheckpointRow = { size, rootHash, time, note: this.signer.sign({ size, rootHash }) };
      deleted += await this.backend.pruneAudit({ size, subtrees: this.tree.compactRange(size), checkpoint, time });
      await new Promise((r) => setImmediate(r));
    }
    return deleted;
  }

  /** Stores what is queued, signs the tail and stops. */
  async close(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    await this.idle();
    this.closed = true;
    try {
      if (this.stats.healthy) await this.checkpointNow();
    } catch (err) {
      this.onFailure(err);
    }
  }

  private async idle(): Promise<void> {
    while (this.busy || this.queue.length > 0) await new Promise((r) => setImmediate(r));
  }

  private tick(): void {
    if (this.busy || this.closed) return;
    const signed = this.lastCheckpoint?.size ?? 0;
    if (this.tree.size > signed && this.now() - this.lastCheckpointAt >= this.intervalMs) {
      this.checkpointNow().catch((err) => this.failed(err));
    }
  }

  private get busy(): boolean {
    return this.scheduled || this.pending > 0 || this.checkpointWrites > 0;
  }

  private schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    // Each pump is a turn of its own: between batches the event loop runs (SQLite commits
    // synchronously, so otherwise a steady stream of appends would keep timers and I/O waiting),
    // and what arrives meanwhile joins the next batch.
    setImmediate(() => {
      this.scheduled = false;
      this.pump();
    });
  }

  /**
   * Hands queued events to storage while the pipeline has room. Called a turn after an append
   * and after each batch settles: a batch is sent as soon as a slot frees, with whatever waited.
   */
  private pump(): void {
    const depth = this.sharedWriters ? 1 : PIPELINE_DEPTH;
    // After a failure, the batches behind it settle before the log is reloaded.
    while (this.queue.length > 0 && this.pending < depth && !(this.unsure && this.pending > 0)) {
      // A batch ends at the next multiple of `checkpointEvery`, so checkpoints fall exactly on
      // multiples and each batch carries at most one.
      const toNext = this.every - (this.sentSize % this.every);
      const batch = this.queue.splice(0, Math.min(this.maxBatch, toNext));
      this.pending++;
      void this.store(batch).finally(() => {
        this.pending--;
        if (this.queue.length > 0) this.schedule();
      });
    }
  }

  /** Commits one batch and settles its callers. Never rejects. */
  private async store(batch: Waiting[]): Promise<void> {
    try {
      if (this.unsure) await this.reload();
      const committed = await this.commit(batch);
      this.stats.batches++;
      this.stats.healthy = true;
      for (let i = 0; i < batch.length; i++) batch[i]!.resolve(committed[i]!);
      for (const l of this.listeners) l();
    } catch (err) {
      this.failed(err);
      const reason = err instanceof TenetError ? err : new TenetError("audit_unavailable", `the audit log could not store the event (${err instanceof Error ? err.message : String(err)}); nothing was decided`);
      for (const w of batch) w.reject(reason);
    }
  }

  private async commit(batch: Waiting[]): Promise<Array<{ seq: number; time: string }>> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.commitAt(batch);
      } catch (err) {
        // Another replica appended first (PostgreSQL, shared log): take its entries and retry
        // with the next sequence numbers. Single-writer logs (SQLite) treat it as tampering.
        if (!(err instanceof AuditConflict) || !this.sharedWriters || attempt >= MAX_CONFLICT_RETRIES) throw err;
        await this.catchUp();
      }
    }
  }

  /** Appends the entries other writers stored after ours (the prefix we know stays as it was). */
  private async catchUp(): Promise<void> {
    const unsure = this.unsure!;
    this.tree.truncate(unsure.size);
    const head = await this.backend.auditHead();
    for (let from = this.tree.size; from < head.size; from += 10_000) {
      const rows = await this.backend.readAuditLeaves(from, Math.min(10_000, head.size - from));
      for (const r of rows) {
        if (r.seq !== this.tree.size) throw new TenetError("audit_unavailable", `the audit log is missing entry ${this.tree.size}; run \`tenet audit verify\``);
        this.tree.append(r.leafHash);
      }
    }
    if (head.checkpoint && head.checkpoint.size > (this.lastCheckpoint?.size ?? 0)) {
      this.lastCheckpoint = head.checkpoint;
      this.lastCheckpointAt = this.now();
    }
    this.signedSize = this.lastCheckpoint?.size ?? 0;
    this.unsure = undefined;
  }

  /** Entries stored or on their way: where the next batch starts. */
  private get sentSize(): number {
    return this.unconfirmed ? this.unconfirmed.size + this.unconfirmed.count : this.tree.size;
  }

  private async commitAt(waiting: Waiting[]): Promise<Array<{ seq: number; time: string }>> {
    const start = this.sentSize;
    // Times never go backwards along the log (the clock may): a time range is a range of seqs.
    const nowMs = Math.max(this.now(), this.lastTime);
    this.lastTime = nowMs;
    const time = new Date(nowMs).toISOString();
    const batch: EventBatch = { start, timeMs: nowMs, events: waiting.map((w) => w.input) };
    const sent: Unconfirmed = (this.unconfirmed ??= { size: this.tree.size, root: this.tree.root(), batches: [], count: 0 });
    sent.batches.push(batch);
    sent.count += batch.events.length;
    if (this.eventWriter) await this.writeEvents(batch, sent);
    else await this.writeRows(batch, sent);
    return waiting.map((_, i) => ({ seq: start + i, time }));
  }

  /** Rows built here; a due checkpoint is signed before the commit and stored with the batch. */
  private async writeRows(batch: EventBatch, sent: Unconfirmed): Promise<void> {
    const rows = auditRows(batch);
    // The tree grows before the commit because the checkpoint stored with the batch needs the new
    // root; a failed commit reloads the tree from storage (`unsure`).
    for (const r of rows) this.tree.append(r.leafHash);
    const cp = this.checkpointIfDue(batch.timeMs);
    await this.settle(sent, this.backend.appendAudit(rows, cp));
    // Served only once stored: a published checkpoint the log then lacks would look like a fork.
    if (cp && cp.size > (this.lastCheckpoint?.size ?? 0)) this.lastCheckpoint = cp;
  }

  /** Rows built by the event writer; the tree grows from the leaf hashes it returns. */
  private async writeEvents(batch: EventBatch, sent: Unconfirmed): Promise<void> {
    const hashes = await this.settle(sent, this.eventWriter!.appendAuditEvents(batch));
    // Batches settle in the order they were sent, so the tree is at this batch's start; if not
    // (an earlier batch has not settled), what was sent is in doubt like after a failure.
    if (this.tree.size !== batch.start || hashes.length !== batch.events.length) {
      this.unsure ??= sent;
      throw new TenetError("audit_unavailable", `the audit writer answered out of order (batch at ${batch.start}, log at ${this.tree.size})`);
    }
    for (const h of hashes) this.tree.append(h);
    const cp = this.checkpointIfDue(batch.timeMs);
    if (cp) this.storeCheckpoint(cp);
  }

  /** Awaits a batch's write; on failure everything sent since the last confirmed head is in doubt. */
  private async settle<T>(sent: Unconfirmed, write: Promise<T>): Promise<T> {
    this.inFlight++;
    try {
      return await write;
    } catch (err) {
      // The batches behind this one are refused by storage (they do not start at its size)
      // unless this one landed after all; reload() tells which.
      this.unsure ??= sent;
      throw err;
    } finally {
      if (--this.inFlight === 0) this.unconfirmed = undefined;
    }
  }

  /** Signs a checkpoint of the tree as it is if one is due (every N entries, every T ms). */
  private checkpointIfDue(nowMs: number): AuditCheckpointRow | undefined {
    const size = this.tree.size;
    const due = size % this.every === 0 || Math.floor(size / this.every) > Math.floor(this.signedSize / this.every) || nowMs - this.lastCheckpointAt >= this.intervalMs;
    if (!due) return undefined;
    const cp = this.sign();
    this.signedSize = cp.size;
    this.lastCheckpointAt = nowMs;
    return cp;
  }

  /** Stores a checkpoint behind its batch (event-writer mode); a failure is reported, not fatal to entries. */
  private storeCheckpoint(cp: AuditCheckpointRow): void {
    this.checkpointWrites++;
    this.backend
      .putAuditCheckpoint(cp)
      .then(
        () => {
          if (cp.size > (this.lastCheckpoint?.size ?? 0)) this.lastCheckpoint = cp;
        },
        (err) => {
          // The entries are stored; the next checkpoint (timer or size) signs them again.
          this.signedSize = this.lastCheckpoint?.size ?? 0;
          this.failed(err);
        },
      )
      .finally(() => this.checkpointWrites--);
  }

  private sign(): AuditCheckpointRow {
    const size = this.tree.size;
    const rootHash = this.tree.root();
    return { size, rootHash, time: new Date(this.now()).toISOString(), note: this.signer.sign({ size, rootHash }) };
  }

  private failed(err: unknown): void {
    this.stats.failures++;
    this.stats.healthy = false;
    this.stats.lastError = err instanceof Error ? err.message : String(err);
    this.onFailure(err);
  }

  /**
   * After a failed commit, storage says what happened: the batch either landed whole or not at
   * all (one transaction). Anything else — a changed prefix, rows the log did not write — is
   * tampering or a second writer: the log stays failed (every append rejects) until reopened.
   */
  private async reload(): Promise<void> {
    const unsure = this.unsure!;
    const { tree, checkpoint } = await loadTree(this.backend);
    if (tree.size < unsure.size || !sameHash(tree.rootAt(unsure.size), unsure.root)) {
      throw new TenetError("audit_unavailable", `the stored audit log no longer matches the first ${unsure.size} entries this process wrote; run \`tenet audit verify\``);
    }
    if (tree.size > unsure.size) {
      // What landed must be a prefix of what this process sent, in order.
      const extra = tree.size - unsure.size;
      const sentHashes = unsure.batches.flatMap((b) => auditRows(b).map((r) => r.leafHash));
      const landed = extra <= sentHashes.length && (await this.backend.readAuditLeaves(unsure.size, extra)).every((r, i) => sameHash(r.leafHash, sentHashes[i]!));
      if (!landed) throw new TenetError("audit_unavailable", `the audit log holds ${extra} entries after ${unsure.size} that this process did not write; run \`tenet audit verify\``);
    }
    this.tree = tree;
    this.lastCheckpoint = checkpoint;
    this.signedSize = checkpoint?.size ?? 0;
    this.unsure = undefined;
  }
}


/** Rebuilds the tree from the stored leaf hashes (after the prune point, if any). */
async function loadTree(backend: AuditBackend): Promise<{ tree: Tree; checkpoint: AuditCheckpointRow | undefined }> {
  const head = await backend.auditHead();
  const start = head.pruned?.size ?? 0;
  const tree = head.pruned ? Tree.fromCompactRange(head.pruned.size, head.pruned.subtrees) : new Tree();
  const PAGE = 10_000;
  for (let from = start; from < head.size; from += PAGE) {
    const rows = await backend.readAuditLeaves(from, Math.min(PAGE, head.size - from));
    for (const r of rows) {
      if (r.seq !== tree.size) throw new TenetError("audit_unavailable", `the audit log is missing entry ${tree.size} (found ${r.seq}); run \`tenet audit verify\``);
      tree.append(r.leafHash);
    }
  }
  if (tree.size !== head.size) throw new TenetError("audit_unavailable", `the audit log has ${tree.size} readable entries of ${head.size}; run \`tenet audit verify\``);
  return { tree, checkpoint: head.checkpoint ?? head.pruned?.checkpoint };
}

function positive(v: number | undefined, dflt: number, name: string): number {
  if (v === undefined) return dflt;
  if (!Number.isInteger(v) || v < 1) throw new TypeError(`${name} must be a positive integer`);
  return v;
}
