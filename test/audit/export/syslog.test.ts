import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createServer as createTlsServer } from "node:tls";
import type { AddressInfo } from "node:net";
import { after, before, describe, it } from "node:test";
import { parseExportConfig } from "../../../src/audit/export/config.js";
import { AuditExporter, createSink } from "../../../src/audit/export/exporter.js";
import { DeliveryError } from "../../../src/audit/export/sink.js";
import { formatMessage, severityOf, type SyslogFormat } from "../../../src/audit/export/syslog/message.js";
import { octetCountingFrames } from "../../../src/audit/export/syslog/stream.js";
import { SyslogSink } from "../../../src/audit/export/syslog/syslog-sink.js";
import { MemoryDatastore } from "../../../src/storage/memory/memory-datastore.js";
import { frameCollector, freePort, parseOctetCounted, range, row, runnerOptions, sleep, tcpReceiver, TestLog, udpReceiver, waitFor } from "./helpers.js";

const FORMAT: SyslogFormat = { facility: 10, hostname: "gw-1", appName: "tenet", procId: "4242", enterpriseId: 32473, bom: true, maxMessageBytes: 8192 };
const signal = new AbortController().signal;
const BOM = Buffer.from([0xef, 0xbb, 0xbf]);

/** The message for row(3), written out by hand from RFC 5424 §6. */
function expectedMessage3(): Buffer {
  const r = row(3);
  assert.equal(r.decision, "deny");
  const head = '<84>1 2026-03-02T09:00:00.003Z gw-1 tenet 4242 access.decision [tenet@32473 seq="3" type="access.decision" decision="deny"] ';
  return Buffer.concat([Buffer.from(head, "ascii"), BOM, Buffer.from(r.event, "utf8")]);
}

/** Seqs from received syslog messages (the structured data's seq). */
const seqsOf = (messages: Buffer[]) => messages.map((m) => Number(/\[tenet@32473 seq="(\d+)"/.exec(m.toString("utf8"))![1]));

describe("syslog messages (RFC 5424)", () => {
  it("formats one entry byte for byte", () => {
    const m = formatMessage(row(3), FORMAT);
    assert.equal(m.truncated, false);
    assert.deepEqual(m.message, expectedMessage3());
  });

  it("takes the severity from the decision: deny/failure warning, challenge/pending notice, else informational", () => {
    const sev = (decision: string | null) => severityOf({ ...row(1), decision });
    assert.deepEqual([sev("deny"), sev("failure"), sev("challenge"), sev("pending"), sev("allow"), sev("success"), sev(null)], [4, 4, 5, 5, 6, 6, 6]);
    // PRI = facility · 8 + severity: local7 (23) and informational → 190.
    assert.match(formatMessage(row(1), { ...FORMAT, facility: 23 }).message.toString(), /^<190>1 /);
  });

  it("escapes structured data values, cleans header fields, and leaves out the BOM when asked", () => {
    const r = { ...row(1), type: 'odd "type"] with spaces\\', decision: null };
    const text = formatMessage(r, { ...FORMAT, bom: false, hostname: "host name", appName: "" }).message.toString("utf8");
    assert.equal(text, `<86>1 2026-03-02T09:00:00.001Z host_name - 4242 odd_"type"]_with_spaces\\ [tenet@32473 seq="1" type="odd \\"type\\"\\] with spaces\\\\"] ${r.event}`);
  });

  it("replaces an event that does not fit maxMessageBytes with a stand-in that still parses", () => {
    const r = { ...row(4), event: row(4).event.replace("ünïcödé ✓", "x".repeat(600)) };
    const m = formatMessage(r, { ...FORMAT, maxMessageBytes: 480 });
    assert.equal(m.truncated, true);
    assert.ok(m.message.length <= 480);
    const text = m.message.toString("utf8");
    const bytes = Buffer.byteLength(r.event);
    assert.ok(text.startsWith(`<86>1 2026-03-02T09:00:00.004Z gw-1 tenet 4242 access.decision [tenet@32473 seq="4" type="access.decision" decision="allow" truncated="${bytes}"] \ufeff`), text);
    assert.deepEqual(JSON.parse(text.slice(text.indexOf("\ufeff") + 1)), { seq: 4, type: "access.decision", truncated: true, bytes });
  });
});

describe("syslog transports", () => {
  it("UDP (RFC 5426): one message per datagram, byte for byte", async () => {
    const rx = await udpReceiver();
    const sink = new SyslogSink({ name: "udp", host: "127.0.0.1", port: rx.port, protocol: "udp", format: FORMAT, timeoutMs: 1000 });
    try {
      await sink.deliver([row(3), row(4), row(5)], signal);
      await waitFor("3 datagrams", () => rx.got.length === 3);
      assert.deepEqual(rx.got[0], expectedMessage3());
      assert.deepEqual(rx.got.slice(1), [formatMessage(row(4), FORMAT).message, formatMessage(row(5), FORMAT).message]);
    } finally {
      await sink.close();
      await rx.close();
    }
  });

  it("TCP (RFC 6587): octet-counting frames, byte for byte", async () => {
    const rx = await tcpReceiver();
    const sink = new SyslogSink({ name: "tcp", host: "127.0.0.1", port: rx.port, protocol: "tcp", format: FORMAT, timeoutMs: 1000 });
    try {
      await sink.deliver([row(3)], signal);
      await sink.deliver([row(4), row(5), row(6)], signal);
      await waitFor("4 frames", () => rx.got.length === 4);
      assert.deepEqual(rx.got[0], expectedMessage3());
      assert.deepEqual(seqsOf(rx.got), [3, 4, 5, 6]);
      assert.deepEqual(rx.errors, []);
    } finally {
      await sink.close();
      await rx.close();
    }
    const expected = expectedMessage3();
    assert.deepEqual(octetCountingFrames([expected]), Buffer.concat([Buffer.from(`${expected.length} `), expected]));
    assert.deepEqual(parseOctetCounted(octetCountingFrames([expected, expected])).messages, [expected, expected]);
  });

  it("TCP: a receiver that goes down and comes back on the same port gets every entry", async () => {
    const ds = new MemoryDatastore();
    const log = new TestLog(ds);
    let rx = await tcpReceiver();
    const port = rx.port;
    const sink = new SyslogSink({ name: "tcp", host: "127.0.0.1", port, protocol: "tcp", format: FORMAT, timeoutMs: 1000 });
    const exporter = new AuditExporter({ source: log, documents: ds, sinks: [{ sink, runner: runnerOptions({ batchSize: 7 }) }], pollMs: 50 });
    await exporter.start();
    try {
      await log.append(20);
      await waitFor("20 frames", () => rx.got.length === 20);
      const before = [...rx.got];
      await rx.close();
      // Give the exporter's socket time to see the close (data written before it does is lost:
      // syslog over TCP has no acknowledgement).
      await sleep(300);
      await log.append(15);
      await waitFor("the sink to notice", () => exporter.status()[0]!.state === "retrying");
      assert.equal(exporter.status()[0]!.lag, 15);
      rx = await tcpReceiver(port);
      await waitFor("the rest", () => exporter.status()[0]!.lag === 0);
      await waitFor("15 frames", () => rx.got.length >= 15);
      assert.deepEqual(seqsOf([...before, ...rx.got]), range(0, 35));
      assert.equal(exporter.status()[0]!.state, "ok");
    } finally {
      await exporter.stop();
      await rx.close();
    }
  });

  describe("TLS (RFC 5425)", () => {
    let dir: string;
    before(() => {
      dir = mkdtempSync(join(tmpdir(), "tenet-export-tls-"));
      const ossl = (...args: string[]) => execFileSync("openssl", args, { cwd: dir, stdio: "pipe" });
      for (const ca of ["ca", "other-ca"]) {
        ossl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", `${ca}.key`, "-out", `${ca}.pem`, "-days", "1", "-subj", `/CN=Tenet test ${ca}`);
      }
      ossl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=syslog.test");
      writeFileSync(join(dir, "san.ext"), "subjectAltName=IP:127.0.0.1\n");
      ossl("x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial", "-out", "server.pem", "-days", "1", "-extfile", "san.ext");
    });
    after(() => rmSync(dir, { recursive: true, force: true }));

    async function tlsReceiver() {
      const c = frameCollector();
      const server = createTlsServer({ key: readFileSync(join(dir, "server.key")), cert: readFileSync(join(dir, "server.pem")) }, c.onConnection);
      server.on("tlsClientError", () => undefined);
      await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
      return {
        port: (server.address() as AddressInfo).port,
        got: c.got,
        close: () =>
          new Promise<void>((r) => {
            for (const s of c.sockets) s.destroy();
            server.close(() => r());
          }),
      };
    }

    it("verifies the receiver against caFile and sends octet-counted frames", async () => {
      const rx = await tlsReceiver();
      const cfg = parseExportConfig({ sinks: [{ name: "tls", type: "syslog", host: "127.0.0.1", port: rx.port, protocol: "tls", caFile: "ca.pem", hostname: "gw-1" }] }, { baseDir: dir });
      const sink = createSink(cfg.sinks[0]!);
      try {
        await sink.deliver([row(3), row(4)], signal);
        await waitFor("2 frames", () => rx.got.length === 2);
        const text = rx.got[0]!.toString("utf8");
        assert.ok(text.startsWith(`<84>1 2026-03-02T09:00:00.003Z gw-1 tenet ${process.pid} access.decision [tenet@32473 seq="3"`), text);
        assert.deepEqual(seqsOf(rx.got), [3, 4]);
      } finally {
        await sink.close();
        await rx.close();
      }
    });

    it("is stuck on a receiver whose certificate it does not trust", async () => {
      const rx = await tlsReceiver();
      const cfg = parseExportConfig({ sinks: [{ name: "tls", type: "syslog", host: "127.0.0.1", port: rx.port, protocol: "tls", caFile: "other-ca.pem" }] }, { baseDir: dir });
      const sink = createSink(cfg.sinks[0]!);
      try {
        await assert.rejects(sink.deliver([row(3)], signal), (err: unknown) => {
          assert.ok(err instanceof DeliveryError);
          assert.equal(err.failure, "stuck");
          assert.match(err.message, /^syslog tls:\/\/127\.0\.0\.1:\d+: /);
          return true;
        });
        assert.equal(rx.got.length, 0);
      } finally {
        await sink.close();
        await rx.close();
      }
    });
  });

  it("a refused connection is transient (retried with backoff)", async () => {
    const sink = new SyslogSink({ name: "tcp", host: "127.0.0.1", port: await freePort(), protocol: "tcp", format: FORMAT, timeoutMs: 1000 });
    await assert.rejects(sink.deliver([row(0)], signal), (err: unknown) => err instanceof DeliveryError && err.failure === "retry" && /ECONNREFUSED/.test(err.message));
    await sink.close();
  });
});
