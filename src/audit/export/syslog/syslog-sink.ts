/**
 * The syslog sink: each entry as an RFC 5424 message (message.ts) over UDP (udp.ts), TCP or TLS
 * (stream.ts).
 */
import type { AuditRow } from "../../../storage/interfaces.js";
import type { Sink } from "../sink.js";
import { formatMessage, type SyslogFormat } from "./message.js";
import { StreamTransport } from "./stream.js";
import { UdpTransport } from "./udp.js";

export interface SyslogSinkOptions {
  name: string;
  host: string;
  port: number;
  protocol: "udp" | "tcp" | "tls";
  format: SyslogFormat;
  /** PEM text (not file names: files are read when the configuration is). */
  tls?: { ca?: string | undefined; cert?: string | undefined; key?: string | undefined } | undefined;
  timeoutMs: number;
}

interface Transport {
  send(messages: readonly Buffer[], signal: AbortSignal): Promise<void>;
  close(): Promise<void>;
}

export class SyslogSink implements Sink {
  readonly type = "syslog" as const;
  readonly name: string;
  /** Entries whose MSG was replaced by a stand-in because the message was too long. */
  truncated = 0;
  private readonly transport: Transport;

  constructor(private readonly opts: SyslogSinkOptions) {
    this.name = opts.name;
    this.transport =
      opts.protocol === "udp"
        ? new UdpTransport(opts.host, opts.port)
        : new StreamTransport({ host: opts.host, port: opts.port, tls: opts.protocol === "tls" ? (opts.tls ?? {}) : undefined, timeoutMs: opts.timeoutMs });
  }

  async deliver(rows: readonly AuditRow[], signal: AbortSignal): Promise<void> {
    const messages: Buffer[] = [];
    let truncated = 0;
    for (const r of rows) {
      const m = formatMessage(r, this.opts.format);
      if (m.truncated) truncated++;
      messages.push(m.message);
    }
    await this.transport.send(messages, signal);
    this.truncated += truncated;
  }

  close(): Promise<void> {
    return this.transport.close();
  }
}
