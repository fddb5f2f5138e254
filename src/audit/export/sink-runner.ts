/**
 * Runs one sink: reads the log from the sink's cursor, delivers a bounded batch, advances and
 * records the cursor once the receiver acknowledged it, and repeats. Failures are retried with
 * backoff, forever: a down or refusing receiver makes the sink lag (the database is the buffer),
 * it never drops an entry and never slows the log's appends, which this only reads.
 *
 * Every sink has its own loop, so a slow or dead receiver holds back only its own sink.
 */
import type { AuditRow } from "../../storage/interfaces.js";
import { type RetryPolicy, retryDelay } from "./backoff.js";
import type { CursorStore } from "./cursor-store.js";
import { asDeliveryError, type Sink, type SinkType } from "./sink.js";
import type { AuditSource } from "./source.js";

export type SinkState = "ok" | "retrying" | "stuck";

export interface SinkStatus {
  name: string;
  type: SinkType;
  /** The next seq to deliver: everything before it was acknowledged. */
  cursor: number;
  /** Entries appended but not yet acknowledged. */
  lag: number;
  /** `retrying`: transient failures; `stuck`: the receiver refuses the batch (someone must act). */
  state: SinkState;
  /** Consecutive failed attempts (0 when the last one succeeded). */
  failures: number;
  lastError: string | undefined;
  lastErrorAt: string | undefined;
  lastSuccessAt: string | undefined;
  /** Entries acknowledged since start. */
  delivered: number;
  /** Failed attempts since start. */
  failedAttempts: number;
  /** Entries that were no longer in the log when this sink came to them (pruned): never delivered. */
  skipped: number;
  /** Entries delivered in shortened form (syslog: longer than maxMessageBytes). */
  truncated: number;
}

export interface SinkRunnerOptions {
  /** Most entries per delivery (and per read of the log). */
  batchSize: number;
  /** Most bytes of events per delivery (at least one entry is always sent). */
  maxBatchBytes: number;
  /** Wait up to this long for a full batch before sending a partial one (0: send at once). */
  flushMs: number;
  /** Where a sink without a stored cursor starts: the first entry, or the next one appended. */
  startAt: "beginning" | "end";
  retry: RetryPolicy;
}

export type ExportLog = (level: "info" | "warn" | "error", message: string, err?: unknown) => void;

export interface RunnerContext {
  source: AuditSource;
  cursors: CursorStore;
  log: ExportLog;
  /** How often an idle sink looks at the log without being woken (ms). */
  pollMs: number;
  now: () => number;
  random?: () => number;
}

export class SinkRunner {
  private cursor = 0;
  private savedCursor = -1;
  private loaded = false;
  private state: SinkState = "ok";
  private failures = 0;
  private lastError: string | undefined;
  private lastErrorAt: string | undefined;
  private lastSuccessAt: string | undefined;
  private delivered = 0;
  private failedAttempts = 0;
  private skipped = 0;
  private lingerSince: number | undefined;
  private loop: Promise<void> | undefined;
  private stopping = false;
  private stopDeadline = 0;
  private readonly abort = new AbortController();
  /** Resolves the current wait: `append` waits end on new entries, every wait ends on stop. */
  private waiting: { resolve: () => void; onAppend: boolean } | undefined;

  constructor(
    readonly sink: Sink,
    private readonly opts: SinkRunnerOptions,
    private readonly ctx: RunnerContext,
  ) {}

  get name(): string {
    return this.sink.name;
  }

  /** The next seq to deliver (pruning the log past the lowest cursor loses entries for that sink). */
  get position(): number {
    return this.cursor;
  }

  /** Loads the cursor and starts the loop. */
  async start(): Promise<void> {
    if (this.loop) return;
    const stored = await this.ctx.cursors.load(this.sink.name);
    if (stored === undefined) {
      this.cursor = this.opts.startAt === "end" ? this.ctx.source.size : 0;
      // Recorded at once, so that `end` means the end at the first start, not at every start.
      await this.saveCursor();
    } else {
      this.cursor = stored;
      this.savedCursor = stored;
      const size = this.ctx.source.size;
      if (stored > size) {
        this.ctx.log("error", `audit export to ${this.sink.name}: its cursor (${stored}) is beyond the end of the audit log (${size} entries): was the database restored from an older copy? Entries ${size}..${stored - 1} will not be exported to it`);
      }
    }
    this.loaded = true;
    this.loop = this.run().catch((err: unknown) => this.ctx.log("error", `audit export to ${this.sink.name} stopped unexpectedly`, err));
  }

  /** New entries were appended. */
  wake(): void {
    if (this.waiting?.onAppend) this.endWait();
  }

  /**
   * Delivers what is outstanding while the receiver keeps acknowledging, for at most
   * `timeoutMs` (then the attempt in flight is aborted), records the cursor and closes the sink.
   */
  async stop(timeoutMs: number): Promise<void> {
    if (!this.stopping) {
      this.stopping = true;
      this.stopDeadline = this.ctx.now() + timeoutMs;
      const timer = setTimeout(() => this.abort.abort(new Error("the audit exporter is stopping")), timeoutMs);
      timer.unref();
      this.endWait();
      try {
        await this.loop;
      } finally {
        clearTimeout(timer);
      }
      if (this.loaded && this.cursor !== this.savedCursor) {
        try {
          await this.saveCursor();
        } catch (err) {
          this.ctx.log("error", `audit export to ${this.sink.name}: could not record cursor ${this.cursor}; entries from ${this.savedCursor} on will be delivered again`, err);
        }
      }
      try {
        // Closed even when never started: it may hold what its constructor opened.
        await this.sink.close();
      } catch (err) {
        this.ctx.log("warn", `audit export to ${this.sink.name}: closing failed`, err);
      }
    } else {
      await this.loop;
    }
  }

  status(): SinkStatus {
    return {
      name: this.sink.name,
      type: this.sink.type,
      cursor: this.cursor,
      lag: Math.max(this.ctx.source.size - this.cursor, 0),
      state: this.state,
      failures: this.failures,
      lastError: this.lastError,
      lastErrorAt: this.lastErrorAt,
      lastSuccessAt: this.lastSuccessAt,
      delivered: this.delivered,
      failedAttempts: this.failedAttempts,
      skipped: this.skipped,
      truncated: this.sink.truncated ?? 0,
    };
  }

  private async run(): Promise<void> {
    for (;;) {
      // Stopping: keep going only while the receiver keeps up and time is left.
      if (this.stopping && (this.state !== "ok" || this.ctx.now() >= this.stopDeadline)) return;
      const size = this.ctx.source.size;
      if (this.cursor >= size) {
        this.lingerSince = undefined;
        if (this.stopping) return;
        await this.wait(this.ctx.pollMs, true);
        continue;
      }
      if (!this.stopping && this.opts.flushMs > 0 && size - this.cursor < this.opts.batchSize) {
        this.lingerSince ??= this.ctx.now();
        const left = this.lingerSince + this.opts.flushMs - this.ctx.now();
        if (left > 0) {
          await this.wait(left, true);
          continue;
        }
      }
      this.lingerSince = undefined;
      let batch: AuditRow[] | undefined;
      try {
        batch = await this.readBatch(size);
      } catch (err) {
        await this.failed(err, "reading the audit log");
        continue;
      }
      if (batch === undefined) {
        // Not readable yet: the batch is still being committed; its append wakes us.
        if (this.stopping) return;
        await this.wait(this.ctx.pollMs, true);
      } else if (batch.length > 0) {
        await this.deliver(batch);
      }
    }
  }

  /**
   * The next batch from the cursor: at most `batchSize` entries and `maxBatchBytes` bytes.
   * Undefined when nothing is readable yet; empty when the cursor skipped pruned entries.
   */
  private async readBatch(size: number): Promise<AuditRow[] | undefined> {
    const from = this.cursor;
    const n = Math.min(this.opts.batchSize, size - from);
    const rows = await this.ctx.source.readAudit(from, n);
    const batch: AuditRow[] = [];
    let expected = from;
    let bytes = 0;
    for (const r of rows) {
      if (!Number.isSafeInteger(r.seq) || r.seq < expected || r.seq >= from + n) {
        throw new Error(`the audit log returned entry ${r.seq} when asked for [${from}, ${from + n}) after ${expected - 1}`);
      }
      const len = Buffer.byteLength(r.event);
      if (batch.length > 0 && bytes + len > this.opts.maxBatchBytes) break;
      // A later entry is readable, so the missing ones are not being committed: they are gone.
      if (r.seq > expected) this.skip(expected, r.seq);
      batch.push(r);
      bytes += len;
      expected = r.seq + 1;
    }
    if (batch.length > 0) return batch;
    // Nothing in the window: still being committed, or pruned (then the last entry is readable).
    if (from + n >= size) return undefined;
    const last = await this.ctx.source.readAudit(size - 1, 1);
    if (last.length === 0) return undefined;
    this.skip(from, from + n);
    this.cursor = from + n;
    await this.saveCursorQuietly();
    return [];
  }

  private skip(from: number, to: number): void {
    this.skipped += to - from;
    this.ctx.log("error", `audit export to ${this.sink.name}: entries ${from}..${to - 1} are no longer in the audit log (pruned before this sink delivered them); they are skipped`);
  }

  /** Sends the batch until the receiver acknowledges it, or the exporter stops. */
  private async deliver(batch: AuditRow[]): Promise<void> {
    for (;;) {
      try {
        await this.sink.deliver(batch, this.abort.signal);
      } catch (err) {
        const e = asDeliveryError(err);
        await this.failed(e, `delivering entries ${batch[0]!.seq}..${batch[batch.length - 1]!.seq}`, e.failure, e.retryAfterMs);
        if (this.stopping) return;
        continue;
      }
      const before = this.state;
      this.cursor = batch[batch.length - 1]!.seq + 1;
      this.delivered += batch.length;
      this.failures = 0;
      this.state = "ok";
      this.lastSuccessAt = new Date(this.ctx.now()).toISOString();
      if (before !== "ok") this.ctx.log("info", `audit export to ${this.sink.name} recovered: delivering again from entry ${batch[0]!.seq}`);
      await this.saveCursorQuietly();
      return;
    }
  }

  /** Records a failure, says so (loudly when the state changes) and waits before the next attempt. */
  private async failed(err: unknown, doing: string, failure: "retry" | "stuck" = "retry", retryAfterMs?: number): Promise<void> {
    const message = err instanceof Error ? err.message : String(err);
    const before = this.state;
    this.failures++;
    this.failedAttempts++;
    this.state = failure === "stuck" ? "stuck" : "retrying";
    this.lastError = `${doing}: ${message}`;
    this.lastErrorAt = new Date(this.ctx.now()).toISOString();
    // Retry-After is the least the receiver wants us to wait (RFC 9110 §10.2.3), not a promise.
    const backoff = retryDelay(this.failures, this.opts.retry, this.ctx.random);
    const delay = failure === "stuck" ? this.opts.retry.stuckMs : Math.max(retryAfterMs ?? 0, backoff);
    if (this.state !== before || this.failures % 10 === 0) {
      const what =
        this.state === "stuck"
          ? `is stuck: the receiver refuses the batch; nothing is skipped, retrying every ${Math.round(delay / 1000)} s until it is accepted`
          : `is failing (attempt ${this.failures}); retrying in ${Math.round(delay / 100) / 10} s`;
      this.ctx.log(this.state === "stuck" ? "error" : "warn", `audit export to ${this.sink.name} ${what} (${this.lastError})`);
    }
    if (!this.stopping) await this.wait(delay, false);
  }

  private async saveCursor(): Promise<void> {
    const next = this.cursor;
    const stored = await this.ctx.cursors.save(this.sink.name, this.sink.type, next);
    this.savedCursor = stored;
    // Another exporter recorded a later position: what it delivered need not be sent again.
    if (stored > this.cursor) this.cursor = stored;
  }

  /** A cursor that cannot be recorded now is recorded with the next batch (or at stop). */
  private async saveCursorQuietly(): Promise<void> {
    try {
      await this.saveCursor();
    } catch (err) {
      this.ctx.log("warn", `audit export to ${this.sink.name}: could not record cursor ${this.cursor} (will retry with the next batch)`, err);
    }
  }

  private wait(ms: number, onAppend: boolean): Promise<void> {
    if (this.stopping) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(() => this.endWait(), ms);
      timer.unref();
      this.waiting = {
        onAppend,
        resolve: () => {
          clearTimeout(timer);
          resolve();
        },
      };
    });
  }

  private endWait(): void {
    const w = this.waiting;
    this.waiting = undefined;
    w?.resolve();
  }
}
