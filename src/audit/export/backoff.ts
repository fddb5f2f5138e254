/**
 * When to try again: exponential backoff with jitter, and the receiver's own Retry-After.
 */

export interface RetryPolicy {
  /** The delay after the first failure (ms). */
  initialMs: number;
  /** The longest delay after transient failures (ms). */
  maxMs: number;
  /** The delay between attempts while the receiver refuses the batch (`stuck`, ms). */
  stuckMs: number;
}

/** A Retry-After longer than this is not believed (the sink would look dead for hours). */
export const MAX_RETRY_AFTER_MS = 60 * 60 * 1000;

/**
 * The delay after the `failures`-th consecutive failure: initial · 2^(failures−1), at most
 * `maxMs`, of which the upper half is random ("equal jitter"), so sinks that failed together do
 * not retry together, and no retry comes sooner than half the nominal delay.
 */
export function retryDelay(failures: number, policy: Pick<RetryPolicy, "initialMs" | "maxMs">, random: () => number = Math.random): number {
  const nominal = Math.min(policy.maxMs, policy.initialMs * 2 ** Math.min(Math.max(failures - 1, 0), 30));
  return Math.round(nominal / 2 + (random() * nominal) / 2);
}

/**
 * RFC 9110 §10.2.3 Retry-After: delay-seconds or an HTTP-date. Milliseconds from `nowMs`, or
 * undefined when absent or unreadable; capped at MAX_RETRY_AFTER_MS.
 */
export function parseRetryAfter(value: string | string[] | undefined, nowMs: number): number | undefined {
  const text = Array.isArray(value) ? value[0] : value;
  if (text === undefined) return undefined;
  const trimmed = text.trim();
  let ms: number;
  if (/^\d+$/.test(trimmed)) ms = Number(trimmed) * 1000;
  else {
    const at = Date.parse(trimmed);
    if (Number.isNaN(at)) return undefined;
    ms = at - nowMs;
  }
  return Math.min(Math.max(ms, 0), MAX_RETRY_AFTER_MS);
}
