/**
 * HTTP webhooks: each batch is one POST.
 *
 * Body, `format: json` (the default), `content-type: application/json`:
 *
 *   {"first_seq":120,"last_seq":129,"entries":[<event>,<event>,…]}
 *
 * or `format: ndjson`, `content-type: application/x-ndjson`: one event per line. Each event is the
 * stored OCSF event, byte for byte (its sequence number is `metadata.sequence`), so a receiver can
 * check it against the log's signed checkpoints: its RFC 6962 leaf hash is SHA-256(0x00 || event).
 *
 * Headers:
 *   idempotency-key: tenet-audit-<first>-<last>   the same on every retry of the batch
 *   tenet-audit-first-seq, tenet-audit-last-seq, tenet-audit-count
 *   tenet-signature: t=<unix>,v1=<hex>             HMAC-SHA256(secret, "<t>.<body>"), as for the
 *                                                  JIT webhooks (src/policy/jit/signature.ts)
 *
 * Delivery is at least once: a batch may arrive twice (a lost response, a restart before the
 * cursor was recorded) and batch boundaries may differ after a restart, so receivers keep the
 * highest seq they stored and drop entries at or below it.
 *
 * Any 2xx acknowledges the batch. Network errors, timeouts, 408, 429 and 5xx are retried with
 * backoff (Retry-After honoured). Redirects and other 4xx mean the receiver refuses the batch
 * (bad secret, wrong URL, body too large): the sink is stuck, says so, and tries again slowly.
 */
import { Agent, request } from "undici";
import type { AuditRow } from "../../../storage/interfaces.js";
import { SIGNATURE_HEADER, signature } from "../../../policy/jit/signature.js";
import { parseRetryAfter } from "../backoff.js";
import { DeliveryError, type Sink } from "../sink.js";

export interface WebhookSinkOptions {
  name: string;
  url: string;
  secret: string;
  format: "json" | "ndjson";
  /** Per attempt: connecting, sending and the response (ms). */
  timeoutMs: number;
  /** More request headers (e.g. a SIEM's `authorization`), values from the environment. */
  headers?: Readonly<Record<string, string>>;
  now?: () => number;
}

export const IDEMPOTENCY_HEADER = "idempotency-key";
export const FIRST_SEQ_HEADER = "tenet-audit-first-seq";
export const LAST_SEQ_HEADER = "tenet-audit-last-seq";
export const COUNT_HEADER = "tenet-audit-count";

/** The request body for a batch. */
export function webhookBody(rows: readonly AuditRow[], format: "json" | "ndjson"): string {
  if (format === "ndjson") {
    let out = "";
    for (const r of rows) out += `${r.event}\n`;
    return out;
  }
  return `{"first_seq":${rows[0]!.seq},"last_seq":${rows[rows.length - 1]!.seq},"entries":[${rows.map((r) => r.event).join(",")}]}`;
}

export class WebhookSink implements Sink {
  readonly type = "webhook" as const;
  readonly name: string;
  private readonly opts: Omit<WebhookSinkOptions, "secret" | "headers">;
  /** Private fields: not shown when the sink is logged or serialised. */
  readonly #secret: string;
  readonly #headers: Readonly<Record<string, string>>;
  private readonly agent: Agent;
  private readonly now: () => number;
  /** The URL for messages: without its query, which some receivers use for an API key. */
  private readonly shownUrl: string;

  constructor({ secret, headers, ...opts }: WebhookSinkOptions) {
    this.name = opts.name;
    const u = new URL(opts.url);
    this.shownUrl = `${u.origin}${u.pathname}${u.search === "" ? "" : "?…"}`;
    this.opts = opts;
    this.#secret = secret;
    this.#headers = { ...headers };
    this.now = opts.now ?? Date.now;
    this.agent = new Agent({ connectTimeout: opts.timeoutMs, keepAliveTimeout: 30_000 });
  }

  async deliver(rows: readonly AuditRow[], signal: AbortSignal): Promise<void> {
    const first = rows[0]!.seq;
    const last = rows[rows.length - 1]!.seq;
    const body = webhookBody(rows, this.opts.format);
    const headers: Record<string, string> = {
      ...this.#headers,
      "content-type": this.opts.format === "ndjson" ? "application/x-ndjson" : "application/json",
      "user-agent": "tenet-audit-export",
      [IDEMPOTENCY_HEADER]: `tenet-audit-${first}-${last}`,
      [FIRST_SEQ_HEADER]: String(first),
      [LAST_SEQ_HEADER]: String(last),
      [COUNT_HEADER]: String(rows.length),
      // Signed at each attempt, so the timestamp is fresh for receivers that refuse old ones.
      [SIGNATURE_HEADER]: signature(this.#secret, body, Math.floor(this.now() / 1000)),
    };
    const where = `POST ${this.shownUrl}`;
    // One controller per attempt, aborted by the timeout or the exporter's stop (AbortSignal.any
    // on the long-lived stop signal would keep every attempt's signal alive on Node 20).
    const attempt = new AbortController();
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      attempt.abort(new Error("timeout"));
    }, this.opts.timeoutMs);
    timer.unref();
    const onStop = () => attempt.abort(signal.reason);
    if (signal.aborted) onStop();
    else signal.addEventListener("abort", onStop, { once: true });
    let statusCode: number;
    let retryAfter: string | string[] | undefined;
    let excerpt = "";
    try {
      const res = await request(this.opts.url, {
        method: "POST",
        body,
        headers,
        dispatcher: this.agent,
        headersTimeout: this.opts.timeoutMs,
        bodyTimeout: this.opts.timeoutMs,
        signal: attempt.signal,
      });
      statusCode = res.statusCode;
      retryAfter = res.headers["retry-after"];
      if (statusCode >= 200 && statusCode < 300) {
        await res.body.dump({ limit: 64 * 1024 }).catch(() => undefined);
        return;
      }
      excerpt = await responseExcerpt(res.body);
    } catch (err) {
      const e = err as { message?: string; code?: string };
      // Our timer and undici's own header/body timeouts are the same limit: whichever fires first.
      if (timedOut || e.code === "UND_ERR_HEADERS_TIMEOUT" || e.code === "UND_ERR_BODY_TIMEOUT") throw new DeliveryError(`${where}: no response within ${this.opts.timeoutMs} ms`, "retry", undefined, { cause: err });
      throw new DeliveryError(`${where}: ${e.message || e.code || "request failed"}`, "retry", undefined, { cause: err });
    } finally {
      clearTimeout(timer);
      signal.removeEventListener("abort", onStop);
    }
    const message = `${where}: HTTP ${statusCode}${excerpt ? ` (${excerpt})` : ""}`;
    if (statusCode === 408 || statusCode === 429 || statusCode >= 500) {
      throw new DeliveryError(message, "retry", parseRetryAfter(retryAfter, this.now()));
    }
    throw new DeliveryError(statusCode >= 300 && statusCode < 400 ? `${message}: redirects are not followed; configure the final URL` : message, "stuck");
  }

  async close(): Promise<void> {
    await this.agent.close();
  }
}

/** The start of an error response, on one line, for the sink's status (receivers explain 4xx there). */
async function responseExcerpt(body: AsyncIterable<Buffer | string>): Promise<string> {
  let text = "";
  try {
    for await (const chunk of body) {
      text += typeof chunk === "string" ? chunk : chunk.toString("utf8");
      if (text.length >= 1024) break;
    }
  } catch {
    // The excerpt is only a hint.
  }
  return text.replace(/\s+/g, " ").trim().slice(0, 200);
}
