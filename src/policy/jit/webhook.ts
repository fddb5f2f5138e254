/**
 * Delivers the outbox to webhook endpoints, at least once: `POST <url>` with the event as JSON and
 *
 *   content-type: application/json
 *   tenet-event-id: <event id>             (the same on every retry: receivers deduplicate on it)
 *   tenet-signature: t=<unix>,v1=<hex>     (signature.ts)
 *
 * Any 2xx is delivered; anything else (another status, refused connection, timeout) is retried
 * after 1 s, 2 s, 4 s … (doubling, capped at `maxDelayMs`), and after `maxAttempts` attempts the
 * delivery is `dead`: kept, reported through `onDead`, listed by `Outbox.list({ status: "dead" })`.
 * Redirects are not followed (a redirect is a failure: configure the final URL).
 *
 * Before sending, a worker claims the delivery by moving its next attempt past the timeout (a
 * compare-and-set), so two replicas do not send the same event at the same moment.
 */
import { request } from "undici";
import { DocumentConflict } from "../../storage/interfaces.js";
import type { WebhookEndpoint } from "./endpoints.js";
import type { Delivery, Outbox, OutboxEntry } from "./outbox.js";
import { EVENT_ID_HEADER, SIGNATURE_HEADER, signature } from "./signature.js";

export interface WebhookWorkerOptions {
  endpoints: readonly WebhookEndpoint[];
  /** Per attempt (default 10 s). */
  timeoutMs?: number;
  /** Attempts before a delivery is dead (default 10). */
  maxAttempts?: number;
  /** The first retry's delay (default 1 s); each later one doubles. */
  baseDelayMs?: number;
  /** The longest delay between attempts (default 5 min). */
  maxDelayMs?: number;
  /** How often `start()` looks for due deliveries (default 1 s). */
  intervalMs?: number;
  now?: () => number;
  /** A delivery gave up: alert someone (the entry is kept). */
  onDead?: (entry: OutboxEntry, delivery: Delivery) => void;
  onError?: (err: unknown) => void;
}

export interface DeliveryReport {
  attempted: number;
  delivered: number;
  /** Failed, to be retried. */
  failed: number;
  /** Failed for the last time. */
  dead: number;
}

/** The delay after the `attempts`-th failed attempt: base · 2^(attempts−1), at most `maxMs`. */
export function backoffDelay(attempts: number, baseMs = 1000, maxMs = 300_000): number {
  return Math.min(baseMs * 2 ** Math.max(attempts - 1, 0), maxMs);
}

interface Outcome {
  url: string;
  attemptsBefore: number;
  ok: boolean;
  error?: string;
}

export class WebhookWorker {
  private readonly secrets: Map<string, string>;
  private readonly timeoutMs: number;
  private readonly maxAttempts: number;
  private readonly baseDelayMs: number;
  private readonly maxDelayMs: number;
  private readonly intervalMs: number;
  private readonly now: () => number;
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<unknown> | undefined;

  constructor(
    private readonly outbox: Outbox,
    private readonly opts: WebhookWorkerOptions,
  ) {
    this.secrets = new Map(opts.endpoints.map((e) => [e.url, e.secret]));
    this.timeoutMs = positive(opts.timeoutMs, 10_000, "timeoutMs");
    this.maxAttempts = positive(opts.maxAttempts, 10, "maxAttempts");
    this.baseDelayMs = positive(opts.baseDelayMs, 1000, "baseDelayMs");
    this.maxDelayMs = positive(opts.maxDelayMs, 300_000, "maxDelayMs");
    this.intervalMs = positive(opts.intervalMs, 1000, "intervalMs");
    this.now = opts.now ?? Date.now;
  }

  /** Polls for due deliveries every `intervalMs` until `stop()`. */
  start(): void {
    if (this.timer) return;
    this.timer = setInterval(() => {
      if (this.running) return;
      this.running = this.deliverDue()
        .catch((err: unknown) => this.opts.onError?.(err))
        .finally(() => {
          this.running = undefined;
        });
    }, this.intervalMs);
    this.timer.unref();
  }

  /** Stops polling and waits for the round in flight. */
  async stop(): Promise<void> {
    clearInterval(this.timer);
    this.timer = undefined;
    await this.running;
  }

  /** Attempts every delivery due at `now` once. */
  async deliverDue(now = this.now()): Promise<DeliveryReport> {
    const report: DeliveryReport = { attempted: 0, delivered: 0, failed: 0, dead: 0 };
    let after: string | undefined;
    for (;;) {
      const ids = await this.outbox.pendingIds({ ...(after !== undefined ? { after } : {}), limit: 500 });
      for (const id of ids) {
        try {
          await this.deliverEntry(id, now, report);
        } catch (err) {
          this.opts.onError?.(err);
        }
      }
      if (ids.length < 500) return report;
      after = ids[ids.length - 1];
    }
  }

  private async deliverEntry(id: string, now: number, report: DeliveryReport): Promise<void> {
    const got = await this.outbox.read(id);
    if (!got || got.entry.status !== "pending") {
      await this.outbox.unmark(id);
      return;
    }
    const { entry, version } = got;
    const due = entry.deliveries.filter((d) => d.status === "pending" && Date.parse(d.nextAttemptAt) <= now);
    if (due.length === 0) return;
    // Claim: no other worker picks these deliveries up until the attempt has surely ended.
    const lease = new Date(now + this.timeoutMs + 5000).toISOString();
    const attemptsBefore = new Map(due.map((d) => [d.url, d.attempts]));
    for (const d of due) d.nextAttemptAt = lease;
    try {
      await this.outbox.replace(entry, version);
    } catch (err) {
      if (err instanceof DocumentConflict) return;
      throw err;
    }
    const body = JSON.stringify(entry.event);
    const outcomes = await Promise.all(due.map((d) => this.send(d.url, entry.event.id, body).then((r) => ({ ...r, url: d.url, attemptsBefore: attemptsBefore.get(d.url)! }))));
    report.attempted += outcomes.length;
    await this.record(id, now, outcomes, report);
  }

  /** Applies the outcomes to the stored entry (re-read: it may have changed meanwhile). */
  private async record(id: string, now: number, outcomes: Outcome[], report: DeliveryReport): Promise<void> {
    for (let attempt = 0; attempt < 5; attempt++) {
      const got = await this.outbox.read(id);
      if (!got) return;
      const { entry, version } = got;
      const dead: Delivery[] = [];
      const counts = { delivered: 0, failed: 0, dead: 0 };
      const at = new Date(now).toISOString();
      for (const o of outcomes) {
        const d = entry.deliveries.find((x) => x.url === o.url);
        // Someone else attempted it since (our lease ran out): their record stands.
        if (!d || d.status !== "pending" || d.attempts !== o.attemptsBefore) continue;
        d.attempts += 1;
        d.lastAttemptAt = at;
        if (o.ok) {
          d.status = "delivered";
          d.deliveredAt = at;
          delete d.lastError;
          counts.delivered++;
        } else {
          d.lastError = o.error ?? "failed";
          if (d.attempts >= this.maxAttempts) {
            d.status = "dead";
            dead.push(d);
            counts.dead++;
          } else {
            d.nextAttemptAt = new Date(now + backoffDelay(d.attempts, this.baseDelayMs, this.maxDelayMs)).toISOString();
            counts.failed++;
          }
        }
      }
      try {
        await this.outbox.replace(entry, version);
      } catch (err) {
        if (err instanceof DocumentConflict) continue;
        throw err;
      }
      report.delivered += counts.delivered;
      report.failed += counts.failed;
      report.dead += counts.dead;
      for (const d of dead) this.opts.onDead?.(entry, d);
      return;
    }
  }

  private async send(url: string, eventId: string, body: string): Promise<{ ok: boolean; error?: string }> {
    const secret = this.secrets.get(url);
    if (secret === undefined) return { ok: false, error: "endpoint no longer configured" };
    try {
      const res = await request(url, {
        method: "POST",
        body,
        headers: {
          "content-type": "application/json",
          "user-agent": "tenet-webhooks",
          [EVENT_ID_HEADER]: eventId,
          [SIGNATURE_HEADER]: signature(secret, body, Math.floor(this.now() / 1000)),
        },
        headersTimeout: this.timeoutMs,
        bodyTimeout: this.timeoutMs,
        signal: AbortSignal.timeout(this.timeoutMs),
      });
      await res.body.dump({ limit: 64 * 1024 }).catch(() => undefined);
      if (res.statusCode >= 200 && res.statusCode < 300) return { ok: true };
      return { ok: false, error: `HTTP ${res.statusCode}` };
    } catch (err) {
      const e = err as { name?: string; message?: string; code?: string };
      if (e.name === "TimeoutError" || e.name === "AbortError") return { ok: false, error: `timeout after ${this.timeoutMs} ms` };
      return { ok: false, error: e.message || e.code || "request failed" };
    }
  }
}

function positive(value: number | undefined, fallback: number, key: string): number {
  if (value === undefined) return fallback;
  if (!Number.isFinite(value) || value <= 0) throw new TypeError(`webhook ${key} must be a positive number`);
  return value;
}
