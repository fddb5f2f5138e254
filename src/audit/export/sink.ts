/**
 * A sink delivers audit entries to one receiver. The runner (sink-runner.ts) owns ordering,
 * batching, retries and the cursor; a sink only sends one batch and says whether the receiver
 * acknowledged all of it.
 */
import type { AuditRow } from "../../storage/interfaces.js";

export type SinkType = "file" | "stdout" | "syslog" | "webhook";

export interface Sink {
  readonly name: string;
  readonly type: SinkType;
  /**
   * Delivers `rows` (ascending seq) and resolves once the receiver has acknowledged every one of
   * them: HTTP 2xx, the TCP write flushed, the file written and fsynced. Throws DeliveryError
   * otherwise; the runner then sends the same batch again, so a receiver may see entries twice.
   * `signal` aborts an attempt when the exporter stops.
   */
  deliver(rows: readonly AuditRow[], signal: AbortSignal): Promise<void>;
  /** Entries delivered in shortened form (syslog messages over the size limit). */
  readonly truncated?: number;
  /** Releases files and connections (what was acknowledged stays delivered). */
  close(): Promise<void>;
}

/**
 * `retry`: transient (network error, timeout, 5xx, 429, 408); retried with backoff.
 * `stuck`: the receiver refuses the batch (another 4xx, a certificate it does not trust, a file
 * we may not write): it will not pass until someone acts. Still retried, slowly: entries are
 * never skipped.
 */
export type DeliveryFailure = "retry" | "stuck";

export class DeliveryError extends Error {
  override readonly name = "DeliveryError";
  constructor(
    message: string,
    readonly failure: DeliveryFailure,
    /** The receiver asked us to wait this long (HTTP Retry-After). */
    readonly retryAfterMs?: number,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** Any error as a DeliveryError (unknown errors are transient). */
export function asDeliveryError(err: unknown): DeliveryError {
  if (err instanceof DeliveryError) return err;
  return new DeliveryError(err instanceof Error ? err.message : String(err), "retry", undefined, { cause: err });
}
