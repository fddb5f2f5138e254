import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { describe, it } from "node:test";
import { MAX_RETRY_AFTER_MS, parseRetryAfter, retryDelay } from "../../../src/audit/export/backoff.js";
import { AuditExporter } from "../../../src/audit/export/exporter.js";
import { DeliveryError } from "../../../src/audit/export/sink.js";
import type { ExportLog } from "../../../src/audit/export/sink-runner.js";
import { WebhookSink } from "../../../src/audit/export/sinks/webhook-sink.js";
import { verifySignature } from "../../../src/policy/jit/signature.js";
import { MemoryDatastore } from "../../../src/storage/memory/memory-datastore.js";
import { httpReceiver, type HttpReply, type HttpRequestSeen, range, row, runnerOptions, TestLog, waitFor } from "./helpers.js";

const SECRET = "audit-webhook-secret-0123456789";
const signal = new AbortController().signal;

interface Batch {
  first_seq: number;
  last_seq: number;
  entries: Array<{ metadata: { sequence: number } }>;
}

const seqsOfBatch = (r: HttpRequestSeen) => (JSON.parse(r.body) as Batch).entries.map((e) => e.metadata.sequence);

function setup(reply: (req: HttpRequestSeen, n: number) => HttpReply, over: Parameters<typeof runnerOptions>[0] = {}) {
  return async () => {
    const rx = await httpReceiver(reply);
    const ds = new MemoryDatastore();
    const log = new TestLog(ds);
    const messages: string[] = [];
    const record: ExportLog = (level, message) => messages.push(`${level}: ${message}`);
    const sink = new WebhookSink({ name: "siem", url: rx.url, secret: SECRET, format: "json", timeoutMs: 2000 });
    const exporter = new AuditExporter({ source: log, documents: ds, sinks: [{ sink, runner: runnerOptions(over) }], pollMs: 50, log: record });
    await exporter.start();
    return { rx, ds, log, exporter, messages, status: () => exporter.status()[0]!, close: async () => (await exporter.stop(), await rx.close()) };
  };
}

describe("webhook sink", () => {
  it("POSTs batches the receiver can verify (HMAC), de-duplicate (seq headers) and check (leaf hashes)", async () => {
    const rx = await httpReceiver();
    const sink = new WebhookSink({ name: "siem", url: rx.url, secret: SECRET, format: "json", timeoutMs: 2000, headers: { authorization: "Bearer siem-token" } });
    try {
      await sink.deliver([row(7), row(8), row(9)], signal);
      const { headers, body } = rx.got[0]!;
      assert.ok(verifySignature(SECRET, headers["tenet-signature"] as string, body));
      assert.ok(!verifySignature("another-secret-0123456789", headers["tenet-signature"] as string, body));
      assert.equal(headers["content-type"], "application/json");
      assert.equal(headers["idempotency-key"], "tenet-audit-7-9");
      assert.equal(headers["tenet-audit-first-seq"], "7");
      assert.equal(headers["tenet-audit-last-seq"], "9");
      assert.equal(headers["tenet-audit-count"], "3");
      assert.equal(headers.authorization, "Bearer siem-token");
      assert.equal(body, `{"first_seq":7,"last_seq":9,"entries":[${row(7).event},${row(8).event},${row(9).event}]}`);
      const parsed = JSON.parse(body) as Batch;
      assert.deepEqual(parsed.entries.map((e) => e.metadata.sequence), [7, 8, 9]);
      // Each entry is the stored event: its RFC 6962 leaf hash is the log's.
      parsed.entries.forEach((e, i) => {
        const hash = createHash("sha256").update(Buffer.from([0])).update(JSON.stringify(e)).digest();
        assert.deepEqual(hash, Buffer.from(row(7 + i).leafHash));
      });
    } finally {
      await sink.close();
      await rx.close();
    }
  });

  it("sends NDJSON when asked: one stored event per line", async () => {
    const rx = await httpReceiver();
    const sink = new WebhookSink({ name: "siem", url: rx.url, secret: SECRET, format: "ndjson", timeoutMs: 2000 });
    try {
      await sink.deliver([row(1), row(2)], signal);
      const { headers, body } = rx.got[0]!;
      assert.equal(headers["content-type"], "application/x-ndjson");
      assert.equal(body, `${row(1).event}\n${row(2).event}\n`);
      assert.ok(verifySignature(SECRET, headers["tenet-signature"] as string, body));
    } finally {
      await sink.close();
      await rx.close();
    }
  });

  it("classifies answers: 5xx, 429 and 408 are retried (Retry-After kept), other 4xx and redirects are stuck", async () => {
    const answers: HttpReply[] = [
      { status: 503, headers: { "retry-after": "7" } },
      { status: 429, headers: { "retry-after": "2" } },
      { status: 408 },
      { status: 401, body: "bad\n  token" },
      { status: 413 },
      { status: 302, headers: { location: "https://elsewhere/" } },
    ];
    const rx = await httpReceiver((_req, n) => answers[n - 1]!);
    // The query (where some receivers take an API key) stays out of messages.
    const sink = new WebhookSink({ name: "siem", url: `${rx.url}?api-key=k3y`, secret: SECRET, format: "json", timeoutMs: 2000 });
    const outcome = async () => {
      try {
        await sink.deliver([row(0)], signal);
        return "delivered";
      } catch (err) {
        assert.ok(err instanceof DeliveryError);
        return `${err.failure} ${err.retryAfterMs ?? "-"} ${err.message.replace(`${rx.url}?…`, "URL")}`;
      }
    };
    try {
      const got: string[] = [];
      for (let i = 0; i < answers.length; i++) got.push(await outcome());
      assert.deepEqual(got, [
        "retry 7000 POST URL: HTTP 503",
        "retry 2000 POST URL: HTTP 429",
        "retry - POST URL: HTTP 408",
        "stuck - POST URL: HTTP 401 (bad token)",
        "stuck - POST URL: HTTP 413",
        "stuck - POST URL: HTTP 302: redirects are not followed; configure the final URL",
      ]);
    } finally {
      await sink.close();
      await rx.close();
    }
  });

  it("retries 503 after Retry-After with the same idempotency key, then delivers", async () => {
    const f = await setup((_req, n) => (n === 1 ? { status: 503, headers: { "retry-after": "1" } } : { status: 200 }))();
    try {
      await f.log.append(5);
      await waitFor("a failure", () => f.status().state === "retrying");
      const failedAt = Date.now();
      assert.equal(f.status().lag, 5);
      await waitFor("delivery", () => f.status().lag === 0);
      assert.ok(Date.now() - failedAt >= 900, "Retry-After: 1 was honoured");
      assert.equal(f.rx.got.length, 2);
      assert.equal(f.rx.got[0]!.body, f.rx.got[1]!.body);
      assert.equal(f.rx.got[0]!.headers["idempotency-key"], f.rx.got[1]!.headers["idempotency-key"]);
      const s = f.status();
      assert.equal(s.state, "ok");
      assert.equal(s.failures, 0);
      assert.equal(s.failedAttempts, 1);
      assert.match(s.lastError ?? "", /HTTP 503/);
      assert.ok(s.lastSuccessAt !== undefined);
      assert.deepEqual(f.messages.map((m) => m.replace(/\d+(\.\d+)? s/, "N s").replace(f.rx.url, "URL")), [
        "warn: audit export to siem is failing (attempt 1); retrying in N s (delivering entries 0..4: POST URL: HTTP 503)",
        "info: audit export to siem recovered: delivering again from entry 0",
      ]);
    } finally {
      await f.close();
    }
  });

  it("a 4xx makes the sink stuck: reported, retried slowly, nothing skipped; fixed, it delivers everything in order", async () => {
    let refuse = true;
    const f = await setup(() => (refuse ? { status: 400, body: "unknown index" } : { status: 200 }), { batchSize: 10 })();
    try {
      await f.log.append(25);
      await waitFor("stuck", () => f.status().state === "stuck");
      let s = f.status();
      assert.equal(s.cursor, 0);
      assert.equal(s.lag, 25);
      assert.match(s.lastError ?? "", /^delivering entries 0\.\.9: POST http:\/\/127\.0\.0\.1:\d+\/audit: HTTP 400 \(unknown index\)$/);
      assert.ok(f.messages.some((m) => m.startsWith("error: audit export to siem is stuck: the receiver refuses the batch; nothing is skipped")));
      // Retried at the slow pace (stuckMs 150 ms), always the same batch.
      await waitFor("two more attempts", () => f.rx.got.length >= 3);
      assert.ok(f.rx.got.every((r) => r.headers["idempotency-key"] === "tenet-audit-0-9"));
      refuse = false;
      await waitFor("delivery", () => f.status().lag === 0);
      s = f.status();
      assert.equal(s.state, "ok");
      assert.equal(s.skipped, 0);
      // The refused attempts, then the three batches that were accepted: every entry once, in order.
      assert.deepEqual(f.rx.got.slice(-3).flatMap(seqsOfBatch), range(0, 25));
      assert.ok(f.rx.got.slice(0, -3).every((r) => r.headers["idempotency-key"] === "tenet-audit-0-9"));
    } finally {
      await f.close();
    }
  });

  it("a request that gets no answer in time is retried", async () => {
    const f = await setup((_req, n) => (n === 1 ? { status: 200, delayMs: 3000 } : { status: 200 }))();
    try {
      await f.log.append(3);
      await waitFor("a timeout", () => f.status().failedAttempts === 1, 5000);
      assert.match(f.status().lastError ?? "", /no response within 2000 ms/);
      await waitFor("delivery", () => f.status().lag === 0);
      assert.deepEqual(seqsOfBatch(f.rx.got[1]!), [0, 1, 2]);
    } finally {
      await f.close();
    }
  });
});

describe("backoff", () => {
  it("doubles from initialMs up to maxMs, the upper half random", () => {
    const policy = { initialMs: 1000, maxMs: 300_000 };
    assert.deepEqual([1, 2, 3, 4].map((n) => retryDelay(n, policy, () => 0)), [500, 1000, 2000, 4000]);
    assert.deepEqual([1, 2, 3, 4].map((n) => retryDelay(n, policy, () => 1)), [1000, 2000, 4000, 8000]);
    assert.equal(retryDelay(40, policy, () => 1), 300_000);
    assert.equal(retryDelay(40, policy, () => 0), 150_000);
  });

  it("reads Retry-After as seconds or an HTTP date, capped at an hour", () => {
    const now = Date.parse("2026-03-02T09:00:00Z");
    assert.equal(parseRetryAfter("120", now), 120_000);
    assert.equal(parseRetryAfter(["5"], now), 5000);
    assert.equal(parseRetryAfter("Mon, 02 Mar 2026 09:00:30 GMT", now), 30_000);
    assert.equal(parseRetryAfter("Mon, 02 Mar 2026 08:00:00 GMT", now), 0);
    assert.equal(parseRetryAfter("999999", now), MAX_RETRY_AFTER_MS);
    assert.equal(parseRetryAfter("soon", now), undefined);
    assert.equal(parseRetryAfter(undefined, now), undefined);
  });
});
