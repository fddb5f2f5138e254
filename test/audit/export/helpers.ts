/**
 * Audit export fixtures: a log over a real datastore (entries appended with `appendAudit`, read
 * back with `readAudit`), real receivers (HTTP, UDP, TCP with RFC 6587 framing) and a clock-free
 * `waitFor`.
 */
import { createHash } from "node:crypto";
import { createSocket } from "node:dgram";
import { createServer as createHttpServer, type IncomingHttpHeaders, type Server as HttpServer } from "node:http";
import { createServer as createTcpServer, type AddressInfo, type Server as TcpServer, type Socket } from "node:net";
import type { RetryPolicy } from "../../../src/audit/export/backoff.js";
import type { SinkRunnerOptions } from "../../../src/audit/export/sink-runner.js";
import type { AuditSource } from "../../../src/audit/export/source.js";
import type { AuditBackend, AuditRow } from "../../../src/storage/interfaces.js";

export const T0 = Date.parse("2026-03-02T09:00:00.000Z");

/** An OCSF-like event as the log stores it (the sequence number in metadata.sequence). */
export function eventJson(seq: number, decision: string, timeMs: number): string {
  return JSON.stringify({
    class_uid: 6003,
    activity_id: 2,
    severity_id: decision === "allow" ? 1 : 2,
    metadata: { version: "1.3.0", log_name: "tenet-audit", event_code: "access.decision", sequence: seq, logged_time: timeMs },
    actor: { user: { uid: `user:u${seq % 7}` } },
    resources: [{ uid: `doc:d${seq}`, type: "doc" }],
    unmapped: { tenet: { decision, note: "ünïcödé ✓" } },
    time: timeMs,
  });
}

export function row(seq: number, decision = seq % 3 === 0 ? "deny" : "allow"): AuditRow {
  const timeMs = T0 + seq;
  const event = eventJson(seq, decision, timeMs);
  return {
    seq,
    time: new Date(timeMs).toISOString(),
    type: "access.decision",
    classUid: 6003,
    storeId: "01JSTORE000000000000000000",
    subject: `user:u${seq % 7}`,
    resource: `doc:d${seq}`,
    decision,
    policy: "default@1",
    event,
    leafHash: createHash("sha256").update(Buffer.from([0])).update(event).digest(),
  };
}

/** The log as the exporter sees it: appends go to the datastore, then listeners hear of them. */
export class TestLog implements AuditSource {
  size = 0;
  private readonly listeners = new Set<() => void>();

  constructor(readonly backend: AuditBackend) {}

  async append(n: number): Promise<void> {
    const rows = Array.from({ length: n }, (_, i) => row(this.size + i));
    await this.backend.appendAudit(rows);
    this.size += n;
    for (const l of this.listeners) l();
  }

  readAudit(fromSeq: number, limit: number): Promise<AuditRow[]> {
    return this.backend.readAudit(fromSeq, limit);
  }

  onAppend(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
}

export const FAST_RETRY: RetryPolicy = { initialMs: 20, maxMs: 200, stuckMs: 150 };

export function runnerOptions(over: Partial<SinkRunnerOptions> = {}): SinkRunnerOptions {
  return { batchSize: 50, maxBatchBytes: 1024 * 1024, flushMs: 0, startAt: "beginning", retry: FAST_RETRY, ...over };
}

export async function waitFor(what: string, cond: () => boolean | Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Seqs from JSON lines (metadata.sequence). */
export function seqsOfLines(text: string): number[] {
  return text
    .split("\n")
    .filter((l) => l !== "")
    .map((l) => (JSON.parse(l) as { metadata: { sequence: number } }).metadata.sequence);
}

export const range = (from: number, to: number) => Array.from({ length: to - from }, (_, i) => from + i);

// ---- receivers ----

export interface HttpRequestSeen {
  headers: IncomingHttpHeaders;
  body: string;
}

export interface HttpReply {
  status: number;
  headers?: Record<string, string>;
  body?: string;
  /** Wait this long before answering. */
  delayMs?: number;
  /** Read the request, then drop the connection without answering. */
  drop?: boolean;
}

/** A real HTTP receiver; `reply` decides each answer (default 200). */
export async function httpReceiver(reply: (req: HttpRequestSeen, n: number) => HttpReply = () => ({ status: 200 }), port = 0) {
  const got: HttpRequestSeen[] = [];
  const server: HttpServer = createHttpServer((req, res) => {
    let body = "";
    req.setEncoding("utf8");
    req.on("data", (c: string) => (body += c));
    req.on("end", () => {
      const seen = { headers: req.headers, body };
      got.push(seen);
      const r = reply(seen, got.length);
      const answer = () => {
        if (r.drop) {
          req.socket.destroy();
          return;
        }
        res.writeHead(r.status, r.headers);
        res.end(r.body ?? "");
      };
      if (r.delayMs) setTimeout(answer, r.delayMs);
      else answer();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, "127.0.0.1", () => resolve());
  });
  const actual = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${actual}/audit`,
    port: actual,
    got,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** A port where nothing listens (now). */
export async function freePort(): Promise<number> {
  const s = createTcpServer();
  await new Promise<void>((r) => s.listen(0, "127.0.0.1", () => r()));
  const { port } = s.address() as AddressInfo;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

/** A real UDP syslog receiver: every datagram, as bytes. */
export async function udpReceiver() {
  const socket = createSocket("udp4");
  const got: Buffer[] = [];
  socket.on("message", (m) => got.push(m));
  await new Promise<void>((r) => socket.bind(0, "127.0.0.1", () => r()));
  return { port: socket.address().port, got, close: () => new Promise<void>((r) => socket.close(() => r())) };
}

/**
 * Parses RFC 6587 octet-counting frames (`MSG-LEN SP SYSLOG-MSG`) from a byte stream; throws on
 * anything else. Returns the messages and the bytes of an incomplete last frame.
 */
export function parseOctetCounted(buf: Buffer): { messages: Buffer[]; rest: Buffer } {
  const messages: Buffer[] = [];
  let off = 0;
  for (;;) {
    const sp = buf.indexOf(0x20, off);
    if (sp < 0) break;
    const lenText = buf.subarray(off, sp).toString("ascii");
    if (!/^[1-9]\d*$/.test(lenText)) throw new Error(`bad frame length '${lenText}' at ${off}`);
    const len = Number(lenText);
    if (sp + 1 + len > buf.length) break;
    messages.push(buf.subarray(sp + 1, sp + 1 + len));
    off = sp + 1 + len;
  }
  return { messages, rest: buf.subarray(off) };
}

/** A real TCP syslog receiver (or the server part of a TLS one) parsing octet-counted frames. */
export function frameCollector() {
  const got: Buffer[] = [];
  const sockets = new Set<Socket>();
  const errors: Error[] = [];
  const onConnection = (socket: Socket) => {
    sockets.add(socket);
    let pending = Buffer.alloc(0);
    socket.on("data", (chunk: Buffer) => {
      try {
        const { messages, rest } = parseOctetCounted(Buffer.concat([pending, chunk]));
        got.push(...messages);
        pending = Buffer.from(rest);
      } catch (err) {
        errors.push(err as Error);
        socket.destroy();
      }
    });
    socket.on("error", () => undefined);
    socket.on("close", () => sockets.delete(socket));
  };
  return { got, sockets, errors, onConnection };
}

export async function tcpReceiver(port = 0) {
  const c = frameCollector();
  const server: TcpServer = createTcpServer(c.onConnection);
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, "127.0.0.1", () => resolve());
  });
  return {
    port: (server.address() as AddressInfo).port,
    got: c.got,
    errors: c.errors,
    /** Closes the listener and every connection (the receiver goes down). */
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of c.sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}
