/**
 * Syslog over TCP with octet-counting framing (RFC 6587 §3.4.1: `MSG-LEN SP SYSLOG-MSG`), and
 * over TLS (RFC 5425, which uses the same framing, §4.3). One connection, kept open between
 * batches and opened again after any error.
 *
 * A batch counts as delivered once it is written to the socket (the write callback: flushed to
 * the kernel). Syslog has no acknowledgement; data still in the kernel's buffer when the receiver
 * resets the connection is lost without either side knowing. The socket is checked before each
 * batch (a receiver that closed its end is noticed and the connection opened again).
 *
 * TLS: the receiver's certificate is always verified (against `ca` when given, else Node's CA
 * list) including its name; a client certificate (`cert`, `key`) is sent when configured, for
 * receivers that authenticate senders (RFC 5425 §5.2).
 */
import { connect as netConnect, isIP, type Socket } from "node:net";
import { connect as tlsConnect, type TLSSocket } from "node:tls";
import { DeliveryError } from "../sink.js";

export interface StreamTransportOptions {
  host: string;
  port: number;
  tls?: { ca?: string | undefined; cert?: string | undefined; key?: string | undefined } | undefined;
  /** Connecting (and the TLS handshake), and each batch's write (ms). */
  timeoutMs: number;
}

/** Certificate problems do not pass on their own: the sink is stuck until someone fixes them. */
const STUCK_TLS = /CERT|SELF_SIGNED|UNABLE_TO|ERR_TLS_CERT_ALTNAME_INVALID|HOSTNAME_MISMATCH/;

/** `MSG-LEN SP SYSLOG-MSG` for each message (RFC 6587 §3.4.1; MSG-LEN counts octets). */
export function octetCountingFrames(messages: readonly Buffer[]): Buffer {
  const parts: Buffer[] = [];
  for (const m of messages) parts.push(Buffer.from(`${m.length} `, "ascii"), m);
  return Buffer.concat(parts);
}

export class StreamTransport {
  private socket: Socket | TLSSocket | undefined;
  private readonly scheme: string;

  constructor(private readonly opts: StreamTransportOptions) {
    this.scheme = opts.tls ? "tls" : "tcp";
  }

  async send(messages: readonly Buffer[], signal: AbortSignal): Promise<void> {
    const frames = octetCountingFrames(messages);
    let socket: Socket;
    try {
      socket = await this.connect(signal);
    } catch (err) {
      throw this.error(err);
    }
    try {
      await new Promise<void>((resolve, reject) => {
        const fail = (err: unknown) => {
          cleanup();
          reject(err);
        };
        const onAbort = () => socket.destroy(signal.reason instanceof Error ? signal.reason : new Error("aborted"));
        const timer = setTimeout(() => socket.destroy(new Error(`write not flushed within ${this.opts.timeoutMs} ms`)), this.opts.timeoutMs);
        const cleanup = () => {
          clearTimeout(timer);
          signal.removeEventListener("abort", onAbort);
          socket.off("close", onClose);
        };
        const onClose = () => fail(new Error("connection closed"));
        signal.addEventListener("abort", onAbort, { once: true });
        socket.once("close", onClose);
        socket.write(frames, (err) => {
          if (err) return fail(err);
          cleanup();
          resolve();
        });
      });
    } catch (err) {
      this.reset();
      throw this.error(err);
    }
  }

  async close(): Promise<void> {
    const s = this.socket;
    this.socket = undefined;
    if (!s || s.destroyed) return;
    // Let what was written leave before closing; do not wait for ever.
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        s.destroy();
        resolve();
      }, 1000);
      timer.unref();
      s.once("close", () => {
        clearTimeout(timer);
        resolve();
      });
      s.end();
    });
  }

  private async connect(signal: AbortSignal): Promise<Socket> {
    const existing = this.socket;
    if (existing && !existing.destroyed && existing.writable && !existing.readableEnded) return existing;
    this.reset();
    signal.throwIfAborted();
    const { host, port, tls, timeoutMs } = this.opts;
    const socket: Socket = tls
      ? tlsConnect({
          host,
          port,
          ...(isIP(host) === 0 ? { servername: host } : {}),
          ...(tls.ca !== undefined ? { ca: tls.ca } : {}),
          ...(tls.cert !== undefined ? { cert: tls.cert } : {}),
          ...(tls.key !== undefined ? { key: tls.key } : {}),
          minVersion: "TLSv1.2",
          rejectUnauthorized: true,
        })
      : netConnect({ host, port });
    // Errors after connecting (a reset while idle) close the socket; the next batch reconnects.
    socket.on("error", () => undefined);
    // Receivers send nothing; reading lets us notice when they close their end.
    socket.on("end", () => socket.destroy());
    socket.resume();
    await new Promise<void>((resolve, reject) => {
      const ready = tls ? "secureConnect" : "connect";
      const done = (err?: unknown) => {
        clearTimeout(timer);
        signal.removeEventListener("abort", onAbort);
        socket.off(ready, onReady);
        socket.off("error", done);
        socket.off("close", onClose);
        if (err === undefined) resolve();
        else {
          socket.destroy();
          reject(err);
        }
      };
      const onReady = () => done();
      const onClose = () => done(new Error("connection closed"));
      const onAbort = () => done(signal.reason ?? new Error("aborted"));
      const timer = setTimeout(() => done(new Error(`no connection within ${timeoutMs} ms`)), timeoutMs);
      signal.addEventListener("abort", onAbort, { once: true });
      socket.once(ready, onReady);
      socket.once("error", done);
      socket.once("close", onClose);
    });
    socket.setNoDelay(true);
    socket.setKeepAlive(true, 30_000);
    socket.unref();
    this.socket = socket;
    return socket;
  }

  private reset(): void {
    const s = this.socket;
    this.socket = undefined;
    s?.destroy();
  }

  private error(err: unknown): DeliveryError {
    const e = err as NodeJS.ErrnoException;
    const stuck = this.opts.tls !== undefined && typeof e.code === "string" && STUCK_TLS.test(e.code);
    return new DeliveryError(`syslog ${this.scheme}://${this.opts.host}:${this.opts.port}: ${e.message ?? String(err)}`, stuck ? "stuck" : "retry", undefined, { cause: err });
  }
}
