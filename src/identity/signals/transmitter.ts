/**
 * The Shared Signals transmitter: listens to the identity bus, turns each event into CAEP events
 * (events.ts), stores one SET per interested receiver in the outbox (outbox.ts) and pushes them
 * (push.ts, RFC 8935), at least once:
 *
 *   - stored before sent: a SET outlives a crash or a restart and goes out afterwards;
 *   - signed at each attempt with the signer's current key (same jti and iat every time, so a
 *     receiver that got it twice drops the copy — RFC 8417 §2.2 `jti`);
 *   - retried after a failure with exponential backoff and jitter (base · 2^(n−1), capped, then
 *     a random point in its upper half so receivers coming back are not hit all at once);
 *   - `dead` after `maxAttempts` attempts, or at once when the receiver rejects the SET for good
 *     (push.ts): kept, reported through `onDead`, listed by `deliveries(id, { status: "dead" })`.
 *
 * A paused receiver's SETs wait for it to be enabled; a disabled (or deleted) receiver's are
 * discarded (SSF 1.0 §8.1.2). When one attempt to a receiver fails for a reason worth retrying,
 * the rest of its backlog waits for the next round rather than piling onto a receiver in trouble.
 *
 * Replicas may run one each: an attempt is claimed first by moving its next attempt past the
 * timeout (a compare-and-set), so no two replicas send the same SET at the same moment.
 */
import { TenetError } from "../../errors.js";
import { DocumentConflict, type DocumentsBackend } from "../../storage/interfaces.js";
import { ulid } from "../../util/ulid.js";
import type { IdentityEvent, IdentityEvents } from "../events.js";
import { securityEvents, SSF_VERIFICATION, type SubjectId } from "./events.js";
import { recordId, SetOutbox, type SetRecord, type SetStatus } from "./outbox.js";
import { pushSet, type PushOutcome } from "./push.js";
import type { DeliveryTarget, ReceiverRegistry } from "./receivers.js";
import { setPayload, signSet, type SetSigner } from "./set.js";

export interface TransmitterOptions {
  receivers: ReceiverRegistry;
  documents: DocumentsBackend;
  signer: SetSigner;
  /** The bus listened to between start() and stop(). */
  events?: IdentityEvents | undefined;
  /** Per attempt (default 10 s). */
  timeoutMs?: number;
  /** Attempts before a SET is dead (default 10). */
  maxAttempts?: number;
  /** The first retry's delay (default 1 s); each later one doubles. */
  baseDelayMs?: number;
  /** The longest delay between attempts (default 5 min). */
  maxDelayMs?: number;
  /** How often a started transmitter looks for due SETs (default 1 s); new SETs go out at once. */
  intervalMs?: number;
  now?: () => number;
  /** [0, 1), for the jitter. */
  random?: () => number;
  newId?: () => string;
  /** A SET was given up on: alert someone (the record is kept). */
  onDead?: (record: SetRecord, receiver: { id: string; endpointUrl: string }) => void;
  onError?: (err: unknown) => void;
}

export interface DeliveryReport {
  attempted: number;
  delivered: number;
  /** Failed, to be retried. */
  failed: number;
  /** Failed for the last time. */
  dead: number;
  /** Dropped because their receiver is disabled or gone. */
  discarded: number;
}

/** The delay after the `attempts`-th failure: base · 2^(attempts−1), at most `maxMs`, jittered into its upper half. */
export function retryDelay(attempts: number, baseMs: number, maxMs: number, random: () => number = Math.random): number {
  const full = Math.min(baseMs * 2 ** Math.max(attempts - 1, 0), maxMs);
  return Math.round(full / 2 + random() * (full / 2));
}

const PAGE = 200;
const MAX_STATE = 1024;

export class Transmitter {
  readonly outbox: SetOutbox;
  private readonly receivers: ReceiverRegistry;
  private readonly signer: SetSigner;
  private readonly timeoutMs: number;
  private readonly maxAttempts: number;
  private readonly baseDelayMs: number;
  private readonly maxDelayMs: number;
  private readonly intervalMs: number;
  private readonly now: () => number;
  private readonly random: () => number;
  private readonly newId: () => string;
  private started = false;
  private unsubscribe: (() => void) | undefined;
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private again = false;
  private swept = false;

  constructor(private readonly opts: TransmitterOptions) {
    this.receivers = opts.receivers;
    this.signer = opts.signer;
    this.timeoutMs = positive(opts.timeoutMs, 10_000, "timeoutMs");
    this.maxAttempts = positive(opts.maxAttempts, 10, "maxAttempts");
    this.baseDelayMs = positive(opts.baseDelayMs, 1000, "baseDelayMs");
    this.maxDelayMs = positive(opts.maxDelayMs, 300_000, "maxDelayMs");
    this.intervalMs = positive(opts.intervalMs, 1000, "intervalMs");
    this.now = opts.now ?? Date.now;
    this.random = opts.random ?? Math.random;
    this.newId = opts.newId ?? (() => ulid());
    this.outbox = new SetOutbox(opts.documents, this.now);
  }

  // ---- lifecycle ----

  /** Listens to the bus and delivers (now, then every `intervalMs` and whenever a SET is stored) until stop(). */
  start(): void {
    if (this.started) return;
    this.started = true;
    this.unsubscribe = this.opts.events?.on(async (e) => {
      await this.publish(e);
    });
    this.timer = setInterval(() => this.kick(false), this.intervalMs);
    this.timer.unref();
    this.kick(true);
  }

  /** Stops listening and delivering; waits for the round in flight. Stored SETs stay for the next start. */
  async stop(): Promise<void> {
    this.started = false;
    this.unsubscribe?.();
    this.unsubscribe = undefined;
    clearInterval(this.timer);
    this.timer = undefined;
    await this.running;
  }

  // ---- producing SETs ----

  /**
   * Stores the SETs `e` becomes, one per receiver that is not disabled and asked for the event
   * type, and starts delivering them (when started). Resolves once they are stored.
   */
  async publish(e: IdentityEvent): Promise<SetRecord[]> {
    const now = this.now();
    const events = securityEvents(e, this.signer.issuer, Math.floor(now / 1000));
    if (events.length === 0) return [];
    const receivers = (await this.receivers.all()).filter((r) => r.status !== "disabled");
    // One txn for every SET the event causes (SSF 1.0 §4.1.9): receivers can correlate them.
    const txn = this.newId();
    const out: SetRecord[] = [];
    for (const ev of events) {
      for (const r of receivers) {
        if (!r.events.includes(ev.type)) continue;
        out.push(await this.store(r.id, r.audience, ev.type, ev.subject, ev.event, now, txn));
      }
    }
    if (out.length > 0) this.kick(true);
    return out;
  }

  /**
   * Sends the receiver a verification event (SSF 1.0 §8.1.4) carrying `state`, through the
   * outbox like any SET. A paused receiver gets it once enabled; a disabled one cannot be verified.
   */
  async verify(receiverId: string, state?: string): Promise<SetRecord> {
    if (state !== undefined && (typeof state !== "string" || state.length > MAX_STATE || /[^\x20-\x7e]/.test(state))) {
      throw new TenetError("validation_error", `state must be printable ASCII of at most ${MAX_STATE} characters`);
    }
    const r = await this.receivers.require(receiverId);
    if (r.status === "disabled") throw new TenetError("conflict", `receiver '${receiverId}' is disabled: enable it to verify it`);
    // SSF §8.1.4.1: the subject of a verification event is the stream itself, as an opaque id.
    const rec = await this.store(r.id, r.audience, SSF_VERIFICATION, { format: "opaque", id: r.id }, state !== undefined ? { state } : {}, this.now());
    this.kick(true);
    return rec;
  }

  private async store(receiverId: string, audience: string, type: string, subject: SubjectId, event: Record<string, unknown>, now: number, txn?: string): Promise<SetRecord> {
    const jti = this.newId();
    const at = new Date(now).toISOString();
    const record: SetRecord = {
      id: recordId(receiverId, jti),
      receiverId,
      jti,
      type,
      payload: setPayload({ issuer: this.signer.issuer, audience, jti, iat: Math.floor(now / 1000), txn, subject, type, event }),
      status: "pending",
      attempts: 0,
      createdAt: at,
      nextAttemptAt: at,
    };
    await this.outbox.add(record);
    return record;
  }

  // ---- records ----

  /** A receiver's SETs in creation order, optionally of one status. */
  deliveries(receiverId: string, opts: { status?: SetStatus | undefined; after?: string | undefined; limit?: number | undefined } = {}): Promise<SetRecord[]> {
    return this.outbox.list(receiverId, opts);
  }

  /** Discards a receiver's SETs not yet delivered (it was disabled or deleted); returns how many. */
  async discardPending(receiverId: string, reason: string): Promise<number> {
    let n = 0;
    let after: string | undefined;
    for (;;) {
      const ids = await this.outbox.pendingIds(receiverId, { after, limit: PAGE });
      for (const id of ids) if (await this.discard(id, reason)) n++;
      if (ids.length < PAGE) return n;
      after = ids[ids.length - 1];
    }
  }

  private async discard(id: string, reason: string): Promise<boolean> {
    for (let attempt = 0; attempt < 5; attempt++) {
      const got = await this.outbox.read(id);
      if (!got || got.record.status !== "pending") {
        await this.outbox.unmarkIfStale(id);
        return false;
      }
      const { record, version } = got;
      record.status = "discarded";
      record.endedAt = new Date(this.now()).toISOString();
      record.lastError = reason;
      try {
        await this.outbox.replace(record, version);
        return true;
      } catch (err) {
        if (!(err instanceof DocumentConflict)) throw err;
      }
    }
    return false;
  }

  /** Discards the pending SETs of receivers that no longer exist (deleted while we were down). */
  async sweepOrphans(): Promise<number> {
    const known = new Set((await this.receivers.all()).map((r) => r.id));
    let n = 0;
    let after: string | undefined;
    for (;;) {
      const ids = await this.outbox.allPendingIds({ after, limit: 500 });
      for (const id of ids) {
        const receiverId = id.slice(0, id.indexOf(":"));
        if (!known.has(receiverId) && (await this.discard(id, "receiver deleted"))) n++;
      }
      if (ids.length < 500) return n;
      after = ids[ids.length - 1];
    }
  }

  // ---- delivering ----

  /** Attempts every SET due at `now` once (enabled receivers), and discards disabled receivers' backlog. */
  async deliverDue(now = this.now()): Promise<DeliveryReport> {
    const report: DeliveryReport = { attempted: 0, delivered: 0, failed: 0, dead: 0, discarded: 0 };
    const targets = await this.receivers.deliveryTargets();
    await Promise.all(
      targets.map(async (t) => {
        try {
          if (t.status === "enabled") await this.deliverTo(t, now, report);
          else if (t.status === "disabled") report.discarded += await this.discardPending(t.id, "receiver disabled");
        } catch (err) {
          this.opts.onError?.(err);
        }
      }),
    );
    return report;
  }

  private async deliverTo(t: DeliveryTarget, now: number, report: DeliveryReport): Promise<void> {
    let after: string | undefined;
    for (;;) {
      const ids = await this.outbox.pendingIds(t.id, { after, limit: PAGE });
      for (const id of ids) {
        if ((await this.attempt(t, id, now, report)) === "stop") return;
      }
      if (ids.length < PAGE) return;
      after = ids[ids.length - 1];
    }
  }

  /** One attempt at one SET; "stop" when the receiver is in trouble (leave its backlog for later). */
  private async attempt(t: DeliveryTarget, id: string, now: number, report: DeliveryReport): Promise<"stop" | "next"> {
    const got = await this.outbox.read(id);
    if (!got || got.record.status !== "pending") {
      await this.outbox.unmarkIfStale(id);
      return "next";
    }
    const { record, version } = got;
    if (Date.parse(record.nextAttemptAt) > now) return "next";
    // Claim: no other worker picks it up until this attempt has surely ended.
    const attemptsBefore = record.attempts;
    record.nextAttemptAt = new Date(now + this.timeoutMs + 5000).toISOString();
    try {
      await this.outbox.replace(record, version);
    } catch (err) {
      if (err instanceof DocumentConflict) return "next";
      throw err;
    }
    report.attempted++;
    const payload = { ...record.payload, aud: t.audience };
    const outcome = await this.send(t, payload);
    await this.record(id, attemptsBefore, outcome, t, report, payload.aud);
    return !outcome.ok && outcome.retry ? "stop" : "next";
  }

  private async send(t: DeliveryTarget, payload: SetRecord["payload"]): Promise<PushOutcome> {
    if (t.authorizationError !== undefined) return { ok: false, retry: true, error: t.authorizationError };
    let token: string;
    try {
      token = await signSet(this.signer, payload);
    } catch (err) {
      this.opts.onError?.(err);
      return { ok: false, retry: true, error: `signing failed: ${(err as Error).message}` };
    }
    return pushSet(t.endpointUrl, token, { authorization: t.authorization, timeoutMs: this.timeoutMs });
  }

  /** Applies the outcome to the stored record (re-read: it may have changed meanwhile). */
  private async record(id: string, attemptsBefore: number, o: PushOutcome, t: DeliveryTarget, report: DeliveryReport, aud: string): Promise<void> {
    for (let attempt = 0; attempt < 5; attempt++) {
      const got = await this.outbox.read(id);
      if (!got) return;
      const { record, version } = got;
      // Discarded meanwhile, or someone else attempted it since (our lease ran out): theirs stands.
      if (record.status !== "pending" || record.attempts !== attemptsBefore) return;
      const now = this.now();
      const at = new Date(now).toISOString();
      record.attempts += 1;
      record.lastAttemptAt = at;
      record.payload.aud = aud;
      let outcome: "delivered" | "failed" | "dead";
      if (o.ok) {
        record.status = "delivered";
        record.deliveredAt = at;
        delete record.lastError;
        outcome = "delivered";
      } else {
        record.lastError = o.error;
        if (!o.retry || record.attempts >= this.maxAttempts) {
          record.status = "dead";
          record.endedAt = at;
          outcome = "dead";
        } else {
          record.nextAttemptAt = new Date(now + retryDelay(record.attempts, this.baseDelayMs, this.maxDelayMs, this.random)).toISOString();
          outcome = "failed";
        }
      }
      try {
        await this.outbox.replace(record, version);
      } catch (err) {
        if (err instanceof DocumentConflict) continue;
        throw err;
      }
      report[outcome]++;
      if (outcome === "dead") this.opts.onDead?.(record, { id: t.id, endpointUrl: t.endpointUrl });
      return;
    }
  }

  /**
   * Runs a round now. `urgent` (new SETs) runs another one right after the round in flight, if
   * any; the timer's kicks do not pile up behind a slow round.
   */
  private kick(urgent: boolean): void {
    if (!this.started) return;
    if (this.running) {
      if (urgent) this.again = true;
      return;
    }
    this.running = (async () => {
      do {
        this.again = false;
        try {
          if (!this.swept) {
            this.swept = true;
            await this.sweepOrphans();
          }
          await this.deliverDue();
        } catch (err) {
          this.opts.onError?.(err);
        }
      } while (this.again && this.started);
    })().finally(() => {
      this.running = undefined;
    });
  }
}

function positive(value: number | undefined, fallback: number, key: string): number {
  if (value === undefined) return fallback;
  if (!Number.isFinite(value) || value <= 0) throw new TypeError(`transmitter ${key} must be a positive number`);
  return value;
}
