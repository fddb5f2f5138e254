/**
 * The audit exporter: one SinkRunner per configured sink, all tailing the same log. Appends wake
 * the runners (`source.onAppend`); they also look every `pollMs`, for entries appended where no
 * listener saw them. Nothing here keeps the process alive (every timer and socket is unref'd).
 *
 * Order at shutdown: close the audit log (it stores what is queued and wakes the exporter), then
 * `stop()` the exporter (it delivers what the receivers accept within `stopTimeoutMs` and records
 * the cursors), then close the datastore.
 */
import type { Writable } from "node:stream";
import type { DocumentsBackend } from "../../storage/interfaces.js";
import type { AuditExportConfig, SinkConfig } from "./config.js";
import { CursorStore } from "./cursor-store.js";
import type { Sink } from "./sink.js";
import { type ExportLog, type SinkRunnerOptions, SinkRunner, type SinkStatus } from "./sink-runner.js";
import { FileSink } from "./sinks/file-sink.js";
import { StreamSink } from "./sinks/stream-sink.js";
import { WebhookSink } from "./sinks/webhook-sink.js";
import type { AuditSource } from "./source.js";
import { SyslogSink } from "./syslog/syslog-sink.js";

export interface AuditExporterOptions {
  source: AuditSource;
  /** Where the cursors are kept (collection `audit-export-cursors`). */
  documents: DocumentsBackend;
  sinks: ReadonlyArray<{ sink: Sink; runner: SinkRunnerOptions }>;
  /** Problems and recoveries, for the server's log (messages never hold secrets). */
  log?: ExportLog;
  /** How often idle sinks look for entries nobody told them about (ms, default 1000). */
  pollMs?: number;
  /** How long `stop()` keeps delivering (ms, default 5000). */
  stopTimeoutMs?: number;
  now?: () => number;
  random?: () => number;
}

export class AuditExporter {
  private readonly runners: SinkRunner[];
  private readonly source: AuditSource;
  private readonly stopTimeoutMs: number;
  private unsubscribe: (() => void) | undefined;
  private state: "new" | "running" | "stopped" = "new";

  constructor(opts: AuditExporterOptions) {
    const names = new Set<string>();
    for (const { sink } of opts.sinks) {
      if (names.has(sink.name)) throw new TypeError(`two audit export sinks are called '${sink.name}'`);
      names.add(sink.name);
    }
    this.source = opts.source;
    this.stopTimeoutMs = opts.stopTimeoutMs ?? 5000;
    const cursors = new CursorStore(opts.documents, opts.now);
    const ctx = {
      source: opts.source,
      cursors,
      log: opts.log ?? (() => undefined),
      pollMs: opts.pollMs ?? 1000,
      now: opts.now ?? Date.now,
      ...(opts.random ? { random: opts.random } : {}),
    };
    this.runners = opts.sinks.map(({ sink, runner }) => new SinkRunner(sink, runner, ctx));
  }

  /** Loads every cursor and starts delivering. */
  async start(): Promise<void> {
    if (this.state !== "new") throw new Error(`the audit exporter was already ${this.state === "running" ? "started" : "stopped"}`);
    this.state = "running";
    this.unsubscribe = this.source.onAppend?.(() => this.notify());
    // Every start settles before a failure stops them all (none may start after the stop).
    const started = await Promise.allSettled(this.runners.map((r) => r.start()));
    const failed = started.find((s) => s.status === "rejected");
    if (failed) {
      await this.stop();
      throw failed.reason;
    }
  }

  /** Entries were appended (for sources without `onAppend`). */
  notify(): void {
    for (const r of this.runners) r.wake();
  }

  /** Delivers what the receivers accept within `stopTimeoutMs`, records the cursors, closes the sinks. */
  async stop(): Promise<void> {
    if (this.state === "stopped") return;
    this.state = "stopped";
    this.unsubscribe?.();
    this.unsubscribe = undefined;
    await Promise.all(this.runners.map((r) => r.stop(this.stopTimeoutMs)));
  }

  status(): SinkStatus[] {
    return this.runners.map((r) => r.status());
  }

  /**
   * The lowest cursor: every sink has acknowledged the entries before it. Pruning the log past
   * it means some sink never gets those entries (it skips them, and says so). Undefined without sinks.
   */
  lowWatermark(): number | undefined {
    if (this.runners.length === 0) return undefined;
    return Math.min(...this.runners.map((r) => r.position));
  }
}

/** A sink from its validated configuration. */
export function createSink(c: SinkConfig, opts: { stdout?: Writable } = {}): Sink {
  switch (c.type) {
    case "stdout":
      return new StreamSink(c.name, opts.stdout ?? process.stdout);
    case "file":
      return new FileSink({ name: c.name, path: c.path, maxBytes: c.rotate?.maxBytes, maxAgeMs: c.rotate?.maxAgeMs, maxFiles: c.rotate?.maxFiles ?? 1 });
    case "syslog":
      return new SyslogSink({
        name: c.name,
        host: c.host,
        port: c.port,
        protocol: c.protocol,
        format: { facility: c.facility, hostname: c.hostname, appName: c.appName, procId: String(process.pid), enterpriseId: c.enterpriseId, bom: c.bom, maxMessageBytes: c.maxMessageBytes },
        tls: c.tls,
        timeoutMs: c.timeoutMs,
      });
    case "webhook":
      return new WebhookSink({ name: c.name, url: c.url, secret: c.secret, headers: c.headers, format: c.format, timeoutMs: c.timeoutMs });
  }
}

/** The exporter for a parsed configuration. */
export function createAuditExporter(config: AuditExportConfig, deps: Omit<AuditExporterOptions, "sinks"> & { stdout?: Writable }): AuditExporter {
  const { stdout, ...rest } = deps;
  return new AuditExporter({ ...rest, sinks: config.sinks.map((c) => ({ sink: createSink(c, stdout ? { stdout } : {}), runner: c.runner })) });
}
