import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PassThrough } from "node:stream";
import { after, describe, it } from "node:test";
import { Registry } from "prom-client";
import { changeEvent } from "../../../src/audit/events.js";
import { parseExportConfig } from "../../../src/audit/export/config.js";
import { CURSOR_COLLECTION } from "../../../src/audit/export/cursor-store.js";
import { AuditExporter, createAuditExporter, createSink } from "../../../src/audit/export/exporter.js";
import { exportMetrics } from "../../../src/audit/export/metrics.js";
import { FileSink } from "../../../src/audit/export/sinks/file-sink.js";
import { StreamSink } from "../../../src/audit/export/sinks/stream-sink.js";
import { WebhookSink } from "../../../src/audit/export/sinks/webhook-sink.js";
import type { AuditSource } from "../../../src/audit/export/source.js";
import { AuditLog } from "../../../src/audit/log.js";
import type { DocumentsBackend } from "../../../src/storage/interfaces.js";
import { MemoryDatastore } from "../../../src/storage/memory/memory-datastore.js";
import { openDatastore } from "../../../src/storage/open.js";
import { freePort, httpReceiver, type HttpRequestSeen, range, runnerOptions, seqsOfLines, sleep, tcpReceiver, TestLog, waitFor } from "./helpers.js";

const SECRET = "audit-webhook-secret-0123456789";
const root = mkdtempSync(join(tmpdir(), "tenet-export-"));
after(() => rmSync(root, { recursive: true, force: true }));
let n = 0;
const fresh = () => join(root, `case-${++n}`);

const ndjsonSeqs = (got: HttpRequestSeen[]) => got.flatMap((r) => seqsOfLines(r.body));
const syslogSeqs = (got: Buffer[]) => got.map((m) => Number(/seq="(\d+)"/.exec(m.toString())![1]));

/** A real datastore whose document writes can be made to fail (the database going away). */
function flakyDocuments(ds: MemoryDatastore): DocumentsBackend & { failWrites: boolean } {
  const docs = {
    failWrites: false,
    getDocument: ds.getDocument.bind(ds),
    listDocuments: ds.listDocuments.bind(ds),
    deleteDocument: ds.deleteDocument.bind(ds),
    putDocument: (collection: string, id: string, body: unknown, expected: number) => (docs.failWrites ? Promise.reject(new Error("database unavailable")) : ds.putDocument(collection, id, body, expected)),
  };
  return docs;
}

describe("audit exporter", () => {
  it("delivers every entry exactly once, in order, to file, stdout, webhook and syslog at once", async () => {
    const dir = fresh();
    const rx = await httpReceiver();
    const syslog = await tcpReceiver();
    const stdout = new PassThrough();
    let printed = "";
    stdout.on("data", (c: Buffer) => (printed += c.toString("utf8")));
    const config = parseExportConfig(
      {
        sinks: [
          { name: "local", type: "file", path: "audit.jsonl", rotate: { maxBytes: "4KiB", maxFiles: 1000 }, batchSize: 17 },
          { type: "stdout", batchSize: 5 },
          { name: "siem", type: "webhook", url: rx.url, secretEnv: "SIEM_SECRET", format: "ndjson", batchSize: 64, flushMs: 20 },
          { type: "syslog", host: "127.0.0.1", port: syslog.port, protocol: "tcp", batchSize: 9 },
        ],
      },
      { baseDir: dir, env: { SIEM_SECRET: SECRET } },
    );
    const ds = new MemoryDatastore();
    const log = new TestLog(ds);
    const exporter = createAuditExporter(config, { source: log, documents: ds, stdout, pollMs: 50 });
    await exporter.start();
    try {
      // Appends keep arriving while the sinks deliver.
      for (let i = 0; i < 20; i++) {
        await log.append(1 + (i % 7) * 5);
        if (i % 4 === 0) await sleep(5);
      }
      const total = log.size;
      await waitFor("every sink to catch up", () => exporter.status().every((s) => s.lag === 0 && s.cursor === total));
      await waitFor("syslog frames", () => syslog.got.length === total);
      const path = join(dir, "audit.jsonl");
      const files: string[] = [];
      for (let i = 1; ; i++) {
        try {
          files.unshift(readFileSync(`${path}.${i}`, "utf8"));
        } catch {
          break;
        }
      }
      files.push(readFileSync(path, "utf8"));
      assert.ok(files.length > 3, "the file was rotated");
      const everything = range(0, total);
      assert.deepEqual(seqsOfLines(files.join("")), everything);
      assert.deepEqual(seqsOfLines(printed), everything);
      assert.deepEqual(ndjsonSeqs(rx.got), everything);
      assert.deepEqual(syslogSeqs(syslog.got), everything);
      for (const s of exporter.status()) {
        assert.equal(s.state, "ok", s.name);
        assert.equal(s.delivered, total, s.name);
        assert.equal(s.failedAttempts, 0, s.name);
      }
      assert.deepEqual(
        exporter.status().map((s) => s.name),
        ["local", "stdout", "siem", "syslog"],
      );
      assert.equal(exporter.lowWatermark(), total);
    } finally {
      await exporter.stop();
      await rx.close();
      await syslog.close();
    }
  });

  it("records the cursor and resumes there after a restart: duplicates only of the unacknowledged batch", async () => {
    const ds = new MemoryDatastore();
    const log = new TestLog(ds);
    // Takes the first three batches; the fourth is read and never answered (the response is lost).
    let drop = true;
    const rx = await httpReceiver((_req, n) => (n > 3 && drop ? { status: 200, drop: true } : { status: 200 }));
    const start = () => {
      const sink = new WebhookSink({ name: "siem", url: rx.url, secret: SECRET, format: "ndjson", timeoutMs: 1000 });
      const exporter = new AuditExporter({ source: log, documents: ds, sinks: [{ sink, runner: runnerOptions({ batchSize: 10 }) }], pollMs: 50, stopTimeoutMs: 200 });
      return exporter;
    };
    const first = start();
    await first.start();
    try {
      await log.append(30);
      await waitFor("3 batches", () => first.status()[0]!.cursor === 30);
      await log.append(10);
      await waitFor("the lost answer", () => first.status()[0]!.failedAttempts >= 1);
    } finally {
      await first.stop();
    }
    assert.equal((await ds.getDocument<{ next: number }>(CURSOR_COLLECTION, "siem"))?.body.next, 30);
    const attemptsOfLost = rx.got.length - 3;
    drop = false;
    await log.append(5);
    const second = start();
    await second.start();
    try {
      await waitFor("the rest", () => second.status()[0]!.lag === 0);
      const seqs = ndjsonSeqs(rx.got);
      const counts = new Map<number, number>();
      for (const s of seqs) counts.set(s, (counts.get(s) ?? 0) + 1);
      assert.deepEqual([...counts.keys()].sort((a, b) => a - b), range(0, 45));
      for (const [seq, count] of counts) assert.equal(count, seq >= 30 && seq < 40 ? 1 + attemptsOfLost : 1, `seq ${seq}`);
      assert.equal(second.status()[0]!.cursor, 45);
    } finally {
      await second.stop();
      await rx.close();
    }
    assert.equal((await ds.getDocument<{ next: number }>(CURSOR_COLLECTION, "siem"))?.body.next, 45);
  });

  it("after a crash before the cursor was recorded, a file gets the unrecorded entries again and loses none", async () => {
    const ds = new MemoryDatastore();
    const docs = flakyDocuments(ds);
    const log = new TestLog(ds);
    const path = join(fresh(), "audit.jsonl");
    const messages: string[] = [];
    const make = () =>
      new AuditExporter({
        source: log,
        documents: docs,
        sinks: [{ sink: new FileSink({ name: "local", path, maxFiles: 1 }), runner: runnerOptions({ batchSize: 8 }) }],
        pollMs: 50,
        log: (level, m) => messages.push(`${level}: ${m}`),
      });
    const first = make();
    await first.start();
    await log.append(20);
    await waitFor("20 entries", () => first.status()[0]!.cursor === 20);
    // The database stops taking writes: entries are still written and synced, the cursor is not recorded.
    docs.failWrites = true;
    await log.append(10);
    await waitFor("30 entries", () => first.status()[0]!.cursor === 30);
    assert.equal(first.status()[0]!.state, "ok");
    await first.stop();
    assert.ok(messages.some((m) => m.startsWith("warn: audit export to local: could not record cursor")));
    assert.ok(messages.some((m) => m === "error: audit export to local: could not record cursor 30; entries from 20 on will be delivered again"));
    docs.failWrites = false;
    await log.append(5);
    const second = make();
    await second.start();
    await waitFor("35 entries", () => second.status()[0]!.cursor === 35);
    await second.stop();
    assert.deepEqual(seqsOfLines(readFileSync(path, "utf8")), [...range(0, 30), ...range(20, 35)]);
  });

  it("a receiver that is down makes its sink lag; when it comes back nothing is lost", async () => {
    const ds = new MemoryDatastore();
    const log = new TestLog(ds);
    const port = await freePort();
    const url = `http://127.0.0.1:${port}/audit`;
    const sink = new WebhookSink({ name: "siem", url, secret: SECRET, format: "ndjson", timeoutMs: 1000 });
    const states: string[] = [];
    const exporter = new AuditExporter({ source: log, documents: ds, sinks: [{ sink, runner: runnerOptions({ batchSize: 10 }) }], pollMs: 50, log: (level, m) => states.push(`${level}: ${m}`) });
    await exporter.start();
    let rx: Awaited<ReturnType<typeof httpReceiver>> | undefined;
    try {
      await log.append(25);
      await waitFor("retrying", () => exporter.status()[0]!.state === "retrying");
      let s = exporter.status()[0]!;
      assert.equal(s.lag, 25);
      assert.equal(s.cursor, 0);
      assert.match(s.lastError ?? "", /ECONNREFUSED/);
      assert.equal(s.lastSuccessAt, undefined);
      await log.append(5);
      assert.equal(exporter.status()[0]!.lag, 30);
      rx = await httpReceiver(undefined, port);
      await waitFor("catching up", () => exporter.status()[0]!.lag === 0, 15_000);
      s = exporter.status()[0]!;
      assert.equal(s.state, "ok");
      assert.ok(s.lastSuccessAt !== undefined);
      assert.ok(s.failedAttempts >= 1);
      assert.deepEqual(ndjsonSeqs(rx.got), range(0, 30));
      // Said once when it started failing (and every tenth attempt), once when it recovered.
      assert.ok(states[0]?.startsWith("warn: audit export to siem is failing (attempt 1); retrying in"), states[0]);
      assert.equal(states[states.length - 1], "info: audit export to siem recovered: delivering again from entry 0");
      assert.ok(states.length <= 2 + Math.floor(s.failedAttempts / 10));
    } finally {
      await exporter.stop();
      await rx?.close();
    }
  });

  it("a slow receiver holds back only its own sink, and never the log's appends", async () => {
    const ds = new MemoryDatastore();
    const log = new TestLog(ds);
    const slow = await httpReceiver(() => ({ status: 200, delayMs: 700 }));
    const path = join(fresh(), "audit.jsonl");
    const exporter = new AuditExporter({
      source: log,
      documents: ds,
      sinks: [
        { sink: new WebhookSink({ name: "slow", url: slow.url, secret: SECRET, format: "ndjson", timeoutMs: 5000 }), runner: runnerOptions({ batchSize: 10 }) },
        { sink: new FileSink({ name: "local", path, maxFiles: 1 }), runner: runnerOptions({ batchSize: 10 }) },
      ],
      pollMs: 50,
      stopTimeoutMs: 1000,
    });
    await exporter.start();
    try {
      const t0 = Date.now();
      for (let i = 0; i < 10; i++) await log.append(10);
      assert.ok(Date.now() - t0 < 500, "appends did not wait for the sinks");
      await waitFor("the file", () => exporter.status()[1]!.lag === 0);
      const [webhook, file] = exporter.status();
      assert.ok(webhook!.lag >= 80, `the slow sink lags (${webhook!.lag})`);
      assert.equal(webhook!.state, "ok");
      assert.equal(file!.cursor, 100);
      assert.deepEqual(seqsOfLines(readFileSync(path, "utf8")), range(0, 100));
    } finally {
      await exporter.stop();
      await slow.close();
    }
  });

  it("stop sends a batch that was waiting to fill up, and records the cursor", async () => {
    const ds = new MemoryDatastore();
    const log = new TestLog(ds);
    const rx = await httpReceiver();
    const exporter = new AuditExporter({
      source: log,
      documents: ds,
      sinks: [{ sink: new WebhookSink({ name: "siem", url: rx.url, secret: SECRET, format: "ndjson", timeoutMs: 1000 }), runner: runnerOptions({ batchSize: 100, flushMs: 60_000 }) }],
      pollMs: 50,
    });
    await exporter.start();
    await log.append(7);
    await sleep(100);
    assert.equal(rx.got.length, 0, "waiting for a full batch");
    await exporter.stop();
    assert.deepEqual(ndjsonSeqs(rx.got), range(0, 7));
    assert.equal((await ds.getDocument<{ next: number }>(CURSOR_COLLECTION, "siem"))?.body.next, 7);
    await rx.close();
  });

  it("skips, counts and reports entries pruned before a sink delivered them", async () => {
    const ds = new MemoryDatastore();
    const log = new TestLog(ds);
    await log.append(30);
    const hash = new Uint8Array(32);
    const checkpoint = { size: 12, rootHash: hash, time: new Date().toISOString(), note: "test" };
    await ds.pruneAudit({ size: 12, subtrees: [hash, hash], checkpoint, time: checkpoint.time });
    const stdout = new PassThrough();
    let printed = "";
    stdout.on("data", (c: Buffer) => (printed += c.toString()));
    const messages: string[] = [];
    const exporter = new AuditExporter({
      source: log,
      documents: ds,
      sinks: [
        { sink: new StreamSink("a", stdout), runner: runnerOptions({ batchSize: 5 }) },
        { sink: new StreamSink("b", new PassThrough().resume()), runner: runnerOptions({ batchSize: 50 }) },
      ],
      pollMs: 50,
      log: (level, m) => messages.push(`${level}: ${m}`),
    });
    await exporter.start();
    try {
      await waitFor("delivery", () => exporter.status().every((s) => s.lag === 0));
      assert.deepEqual(seqsOfLines(printed), range(12, 30));
      assert.deepEqual(exporter.status().map((s) => [s.skipped, s.delivered]), [[12, 18], [12, 18]]);
      const pruned = (sink: string, range: string) => `error: audit export to ${sink}: entries ${range} are no longer in the audit log (pruned before this sink delivered them); they are skipped`;
      assert.deepEqual(messages.sort(), [pruned("a", "0..4"), pruned("a", "10..11"), pruned("a", "5..9"), pruned("b", "0..11")]);
    } finally {
      await exporter.stop();
    }
  });

  it("startAt end: a new sink begins with the next entry appended, and keeps its place after a restart", async () => {
    const ds = new MemoryDatastore();
    const log = new TestLog(ds);
    await log.append(10);
    const make = (stdout: PassThrough) => new AuditExporter({ source: log, documents: ds, sinks: [{ sink: new StreamSink("tail", stdout), runner: runnerOptions({ startAt: "end" }) }], pollMs: 50 });
    const out1 = new PassThrough();
    let printed = "";
    out1.on("data", (c: Buffer) => (printed += c.toString()));
    const first = make(out1);
    await first.start();
    assert.equal(first.status()[0]!.cursor, 10);
    await log.append(3);
    await waitFor("3", () => first.status()[0]!.lag === 0);
    await first.stop();
    await log.append(2);
    const out2 = new PassThrough();
    out2.on("data", (c: Buffer) => (printed += c.toString()));
    const second = make(out2);
    await second.start();
    await waitFor("2 more", () => second.status()[0]!.lag === 0);
    await second.stop();
    assert.deepEqual(seqsOfLines(printed), range(10, 15));
  });

  it("exports its status as Prometheus metrics", async () => {
    const ds = new MemoryDatastore();
    const log = new TestLog(ds);
    const stdout = new PassThrough().resume();
    const port = await freePort();
    const exporter = new AuditExporter({
      source: log,
      documents: ds,
      sinks: [
        { sink: new StreamSink("out", stdout), runner: runnerOptions() },
        { sink: new WebhookSink({ name: "down", url: `http://127.0.0.1:${port}/`, secret: SECRET, format: "json", timeoutMs: 500 }), runner: runnerOptions() },
      ],
      pollMs: 50,
    });
    const registry = new Registry();
    exportMetrics(exporter, registry);
    await exporter.start();
    try {
      await log.append(4);
      await waitFor("states", () => exporter.status()[0]!.lag === 0 && exporter.status()[1]!.state === "retrying");
      const text = await registry.metrics();
      for (const line of [
        'tenet_audit_export_lag_entries{sink="out"} 0',
        'tenet_audit_export_lag_entries{sink="down"} 4',
        'tenet_audit_export_cursor{sink="out"} 4',
        'tenet_audit_export_state{sink="out",state="ok"} 1',
        'tenet_audit_export_state{sink="down",state="retrying"} 1',
        'tenet_audit_export_state{sink="down",state="ok"} 0',
        'tenet_audit_export_delivered_total{sink="out"} 4',
        'tenet_audit_export_skipped_total{sink="down"} 0',
      ]) {
        assert.ok(text.split("\n").includes(line), `${line}\n${text}`);
      }
      assert.match(text, /tenet_audit_export_failures_total\{sink="down"\} [1-9]/);
      assert.match(text, /tenet_audit_export_last_success_timestamp_seconds\{sink="out"\} \d+/);
    } finally {
      await exporter.stop();
    }
  });

  it("tails the AuditLog over SQLite: the file holds the stored events, whose leaf hashes are the log's", async () => {
    const dir = fresh();
    const ds = await openDatastore({ dataDir: join(dir, "data") });
    const log = await AuditLog.open({ backend: ds, signer: { sign: ({ size }) => `test checkpoint ${size}` } });
    // The AuditLog is an AuditSource as it is.
    const source: AuditSource = log;
    const path = join(dir, "audit.jsonl");
    const syslog = await tcpReceiver();
    const exporter = new AuditExporter({
      source,
      documents: ds,
      sinks: [
        { sink: new FileSink({ name: "local", path, maxFiles: 1 }), runner: runnerOptions() },
        {
          sink: createSink(parseExportConfig({ sinks: [{ type: "syslog", host: "127.0.0.1", port: syslog.port, protocol: "tcp" }] }).sinks[0]!),
          runner: runnerOptions(),
        },
      ],
      pollMs: 1000,
    });
    await exporter.start();
    try {
      const appended = await Promise.all(
        range(0, 40).map((i) => log.append(changeEvent({ type: "tuples.write", activity: "create", actor: "user:anne", entity: { type: "tuple", uid: `doc:${i}#reader@user:bob` } }, undefined))),
      );
      assert.deepEqual(appended.map((a) => a.seq), range(0, 40));
      // Woken by the log's onAppend (the poll interval is longer than the wait).
      await waitFor("export", () => exporter.status().every((s) => s.lag === 0 && s.cursor === 40), 900);
      const lines = readFileSync(path, "utf8").split("\n").slice(0, -1);
      const stored = await ds.readAudit(0, 40);
      assert.deepEqual(lines, stored.map((r) => r.event));
      lines.forEach((line, i) => {
        assert.deepEqual(createHash("sha256").update(Buffer.from([0])).update(line).digest(), Buffer.from(stored[i]!.leafHash));
      });
      await waitFor("syslog", () => syslog.got.length === 40);
      assert.deepEqual(syslogSeqs(syslog.got), range(0, 40));
      assert.match(syslog.got[0]!.toString(), /^<86>1 \S+ \S+ tenet \d+ tuples\.write \[tenet@32473 seq="0" type="tuples.write" decision="success"\] \ufeff\{/);
    } finally {
      await log.close();
      await exporter.stop();
      await syslog.close();
      await ds.close();
    }
  });

  it("keeps no process alive: a script that starts an exporter (one sink retrying, one connected) and never stops it exits", async () => {
    const rx = await httpReceiver();
    const url = (p: string) => JSON.stringify(new URL(`../../../src/${p}`, import.meta.url).href);
    const script = `
      import { AuditExporter } from ${url("audit/export/exporter.js")};
      import { WebhookSink } from ${url("audit/export/sinks/webhook-sink.js")};
      import { FileSink } from ${url("audit/export/sinks/file-sink.js")};
      import { MemoryDatastore } from ${url("storage/memory/memory-datastore.js")};
      const ds = new MemoryDatastore();
      const rows = [0, 1, 2].map((seq) => ({ seq, time: new Date().toISOString(), type: "t.x", decision: null, event: JSON.stringify({ seq }) }));
      const source = { size: 3, readAudit: async (f, l) => rows.slice(f, f + l), onAppend: () => () => {} };
      const runner = { batchSize: 10, maxBatchBytes: 65536, flushMs: 0, startAt: "beginning", retry: { initialMs: 50, maxMs: 100, stuckMs: 1000 } };
      const webhook = (name, url) => new WebhookSink({ name, url, secret: "x".repeat(16), format: "json", timeoutMs: 1000 });
      const exporter = new AuditExporter({ source, documents: ds, pollMs: 100, sinks: [
        { sink: webhook("down", "http://127.0.0.1:${await freePort()}/"), runner },
        { sink: webhook("up", ${JSON.stringify(rx.url)}), runner },
        { sink: new FileSink({ name: "f", path: ${JSON.stringify(join(fresh(), "a.jsonl"))}, maxFiles: 1 }), runner },
      ] });
      await exporter.start();
      await new Promise((r) => setTimeout(r, 300));
      console.log(exporter.status().map((s) => s.state + " " + s.cursor).join(", "));
    `;
    try {
      const r = await new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
        const child = execFile(process.execPath, ["--input-type=module", "-e", script], { timeout: 5000, encoding: "utf8" }, (err, stdout, stderr) =>
          resolve({ code: err ? (typeof err.code === "number" ? err.code : null) : 0, stdout, stderr }),
        );
        child.stdin?.end();
      });
      assert.equal(r.stderr, "");
      assert.equal(r.stdout.trim(), "retrying 0, ok 3, ok 3");
      assert.equal(r.code, 0, "the process exited by itself");
      assert.equal(rx.got.length, 1);
    } finally {
      await rx.close();
    }
  });
});
