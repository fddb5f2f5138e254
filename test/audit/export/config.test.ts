import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { inspect } from "node:util";
import { parseExportConfig, type WebhookSinkConfig } from "../../../src/audit/export/config.js";
import { TenetError } from "../../../src/errors.js";

const SECRET = "a-webhook-secret-of-some-length";
const env = { AUDIT_SECRET: SECRET, SHORT: "short", SIEM_TOKEN: "Splunk 1234" };
const dir = mkdtempSync(join(tmpdir(), "tenet-export-config-"));
after(() => rmSync(dir, { recursive: true, force: true }));

/** The error's details as `where: message` lines. */
function problems(raw: unknown, opts: Parameters<typeof parseExportConfig>[1] = {}): string[] {
  try {
    parseExportConfig(raw, { env, ...opts });
  } catch (err) {
    assert.ok(err instanceof TenetError, String(err));
    assert.equal(err.code, "validation_error");
    return err.details.map((d) => `${d.where}: ${d.message}`);
  }
  assert.fail("expected a validation error");
}

describe("audit export configuration", () => {
  it("parses every sink type, with defaults, and keeps secrets out of sight", () => {
    const cfg = parseExportConfig(
      {
        sinks: [
          { name: "siem", type: "webhook", url: "https://siem.example.com/in", secretEnv: "AUDIT_SECRET", headersEnv: { Authorization: "SIEM_TOKEN" }, batchSize: 200, flushMs: 500 },
          { name: "local", type: "file", path: "logs/audit.jsonl", rotate: { maxBytes: "10MiB", maxAge: "1d", maxFiles: 5 } },
          { type: "syslog", host: "logs.example.com", protocol: "tcp", facility: "local3" },
          { type: "stdout" },
        ],
      },
      { env, baseDir: dir },
    );
    assert.deepEqual(cfg.warnings, []);
    const [siem, local, syslog, stdout] = cfg.sinks;
    assert.equal(siem?.type, "webhook");
    const w = siem as WebhookSinkConfig;
    assert.equal(w.url, "https://siem.example.com/in");
    assert.equal(w.format, "json");
    assert.equal(w.secret, SECRET);
    assert.deepEqual(w.headers, { authorization: "Splunk 1234" });
    assert.deepEqual(w.runner, { batchSize: 200, maxBatchBytes: 1024 * 1024, flushMs: 500, startAt: "beginning", retry: { initialMs: 1000, maxMs: 300_000, stuckMs: 60_000 } });
    // Neither the secret nor the header value shows when the configuration is logged.
    for (const text of [JSON.stringify(cfg), inspect(cfg, { depth: 10 })]) {
      assert.ok(!text.includes(SECRET), text);
      assert.ok(!text.includes("Splunk 1234"), text);
    }
    assert.deepEqual(local, {
      type: "file",
      name: "local",
      path: join(dir, "logs/audit.jsonl"),
      rotate: { maxBytes: 10 * 1024 * 1024, maxAgeMs: 86_400_000, maxFiles: 5 },
      runner: { batchSize: 1000, maxBatchBytes: 1024 * 1024, flushMs: 0, startAt: "beginning", retry: { initialMs: 1000, maxMs: 300_000, stuckMs: 60_000 } },
    });
    assert.equal(syslog?.name, "syslog");
    assert.ok(syslog?.type === "syslog");
    assert.equal(syslog.port, 514);
    assert.equal(syslog.facility, 19);
    assert.equal(syslog.appName, "tenet");
    assert.equal(syslog.enterpriseId, 32473);
    assert.equal(syslog.maxMessageBytes, 8192);
    assert.equal(syslog.bom, true);
    assert.equal(syslog.tls, undefined);
    assert.deepEqual(stdout, { type: "stdout", name: "stdout", runner: { batchSize: 1000, maxBatchBytes: 1024 * 1024, flushMs: 0, startAt: "beginning", retry: { initialMs: 1000, maxMs: 300_000, stuckMs: 60_000 } } });
  });

  it("takes sizes with units, facilities by number, TLS files, and warns about unsafe transports", () => {
    const ca = join(dir, "ca.pem");
    writeFileSync(ca, "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n");
    const cfg = parseExportConfig(
      {
        sinks: [
          { name: "a", type: "file", path: join(dir, "a.jsonl"), rotate: { maxBytes: 4096 } },
          { name: "b", type: "file", path: join(dir, "b.jsonl"), rotate: { maxBytes: "1.5 MB", maxAge: 3_600_000 } },
          { name: "t", type: "syslog", host: "10.0.0.7", protocol: "tls", caFile: "ca.pem", facility: 13 },
          { name: "u", type: "syslog", host: "::1", protocol: "udp" },
          { name: "h", type: "webhook", url: "http://siem.internal:8088/in", secretEnv: "AUDIT_SECRET", format: "ndjson" },
          { name: "l", type: "webhook", url: "http://127.0.0.1:9/in", secretEnv: "AUDIT_SECRET" },
        ],
      },
      { env, baseDir: dir },
    );
    const [a, b, t, u] = cfg.sinks;
    assert.ok(a?.type === "file" && b?.type === "file" && t?.type === "syslog" && u?.type === "syslog");
    assert.deepEqual(a.rotate, { maxBytes: 4096, maxAgeMs: undefined, maxFiles: 10 });
    assert.deepEqual(b.rotate, { maxBytes: 1_500_000, maxAgeMs: 3_600_000, maxFiles: 10 });
    assert.equal(t.port, 6514);
    assert.equal(t.facility, 13);
    assert.match(t.tls?.ca ?? "", /BEGIN CERTIFICATE/);
    assert.equal(u.port, 514);
    assert.equal(u.maxMessageBytes, 2048);
    assert.equal(cfg.warnings.length, 2);
    assert.match(cfg.warnings[0]!, /u: syslog over UDP may lose entries/);
    assert.match(cfg.warnings[1]!, /h: http:\/\/siem\.internal:8088 is plain http/);
  });

  it("accepts an empty section", () => {
    assert.deepEqual(parseExportConfig(undefined), { sinks: [], warnings: [] });
    assert.deepEqual(parseExportConfig({ sinks: [] }), { sinks: [], warnings: [] });
  });

  it("names the field of every mistake", () => {
    assert.deepEqual(problems({ sinks: [{ type: "stdout", colour: "red" }], extra: 1 }), [
      "sinks[0].colour: is not an audit export setting (check the spelling)",
      "extra: is not an audit export setting (check the spelling)",
    ]);
    assert.deepEqual(problems({ sinks: [{ type: "kafka" }] }), ["sinks[0].type: must be one of file, stdout, syslog, webhook"]);
    assert.deepEqual(problems({ sinks: [{ type: "webhook", url: "not a url", secretEnv: "AUDIT_SECRET" }] }), ["sinks[0].url: is not a URL"]);
    assert.deepEqual(problems({ sinks: [{ type: "webhook", url: "ftp://siem.example.com/x", secretEnv: "AUDIT_SECRET" }] }), ["sinks[0].url: must use http or https, not 'ftp'"]);
    assert.deepEqual(problems({ sinks: [{ type: "webhook", url: "https://u:p@siem.example.com/", secretEnv: "AUDIT_SECRET" }] }), [
      "sinks[0].url: must not hold credentials: the receiver checks tenet-signature (or give headersEnv)",
    ]);
    assert.deepEqual(problems({ sinks: [{ type: "webhook", url: "https://siem.example.com/" }] }), ["sinks[0].secretEnv: is required"]);
    assert.deepEqual(problems({ sinks: [{ type: "webhook", url: "https://siem.example.com/", secretEnv: "MISSING" }] }), ["sinks[0].secretEnv: the environment variable MISSING is not set"]);
    assert.deepEqual(problems({ sinks: [{ type: "webhook", url: "https://siem.example.com/", secretEnv: "SHORT" }] }), ["sinks[0].secretEnv: the environment variable SHORT holds fewer than 16 characters"]);
    assert.deepEqual(problems({ sinks: [{ type: "webhook", url: "https://siem.example.com/", secretEnv: "AUDIT_SECRET", headersEnv: { "Tenet-Signature": "SIEM_TOKEN", "x-key": "NOPE", "bad header": "SIEM_TOKEN" } }] }), [
      "sinks[0].headersEnv.bad header: key: must be an HTTP header name",
    ]);
    assert.deepEqual(problems({ sinks: [{ type: "webhook", url: "https://siem.example.com/", secretEnv: "AUDIT_SECRET", headersEnv: { "Tenet-Signature": "SIEM_TOKEN", "x-key": "NOPE" } }] }), [
      "sinks[0].headersEnv.Tenet-Signature: is set by the exporter itself",
      "sinks[0].headersEnv.x-key: the environment variable NOPE is not set",
    ]);
    assert.deepEqual(problems({ sinks: [{ type: "file", path: "/tmp/a.jsonl", rotate: { maxBytes: "10 parsecs" } }] }), [
      "sinks[0].rotate.maxBytes: must be a size from 1024 to 1099511627776 bytes, as a number or with a unit (512KiB, 100MiB, 1GB)",
    ]);
    assert.deepEqual(problems({ sinks: [{ type: "file", path: "/tmp/a.jsonl", rotate: { maxBytes: 100 } }] }), [
      "sinks[0].rotate.maxBytes: must be a size from 1024 to 1099511627776 bytes, as a number or with a unit (512KiB, 100MiB, 1GB)",
    ]);
    assert.deepEqual(problems({ sinks: [{ type: "file", path: "/tmp/a.jsonl", rotate: { maxFiles: 3 } }] }), ["sinks[0].rotate: give maxBytes, maxAge or both"]);
    assert.deepEqual(problems({ sinks: [{ type: "file", path: "/tmp/a.jsonl", rotate: { maxAge: "forever", maxFiles: 0 } }] }), [
      "sinks[0].rotate.maxAge: must be a duration such as '12h', '1d' or 'PT1H', or a number of milliseconds",
      "sinks[0].rotate.maxFiles: Too small: expected number to be >=1",
    ]);
    assert.deepEqual(problems({ sinks: [{ type: "syslog", host: "logs.example.com:514", protocol: "tcp" }] }), ["sinks[0].host: must be a host name or an IP address (no scheme, no port)"]);
    assert.deepEqual(problems({ sinks: [{ type: "syslog", host: "udp://logs.example.com", protocol: "udp" }] }), ["sinks[0].host: must be a host name or an IP address (no scheme, no port)"]);
    assert.deepEqual(problems({ sinks: [{ type: "syslog", host: "logs.example.com", protocol: "sctp", port: 70000 }] }), [
      "sinks[0].port: must be a port number (1-65535)",
      "sinks[0].protocol: must be udp, tcp or tls",
    ]);
    assert.deepEqual(problems({ sinks: [{ type: "syslog", host: "logs.example.com" }] }), ["sinks[0].protocol: must be udp, tcp or tls"]);
    assert.deepEqual(problems({ sinks: [{ type: "syslog", host: "logs.example.com", protocol: "tcp", facility: "security", appName: "my app" }] }), [
      "sinks[0].facility: must be 0-23 or one of kern, user, mail, daemon, auth, syslog, lpr, news, uucp, cron, authpriv, ftp, ntp, audit, alert, clock, local0, local1, local2, local3, local4, local5, local6, local7",
      "sinks[0].appName: must be printable ASCII without spaces",
    ]);
    assert.deepEqual(problems({ sinks: [{ type: "syslog", host: "logs.example.com", protocol: "udp", caFile: "ca.pem", maxMessageBytes: 70000 }] }), [
      "sinks[0].maxMessageBytes: a UDP datagram holds at most 65507 bytes",
      "sinks[0].caFile: applies to protocol tls only",
    ]);
    assert.deepEqual(problems({ sinks: [{ type: "syslog", host: "logs.example.com", protocol: "tls", caFile: "missing.pem", certFile: join(dir, "ca.pem") }] }, { baseDir: dir }), [
      `sinks[0].caFile: cannot read ${join(dir, "missing.pem")} (ENOENT)`,
      "sinks[0].keyFile: give both certFile and keyFile (a client certificate and its key), or neither",
    ]);
  });

  it("refuses two sinks with one name (the cursor's id) and two sinks writing one file", () => {
    assert.deepEqual(problems({ sinks: [{ type: "stdout" }, { type: "stdout" }] }), [
      "sinks[1].name: another sink (sinks[0]) is already called 'stdout': give each sink of the same type a name",
    ]);
    assert.deepEqual(problems({ sinks: [{ name: "x", type: "stdout" }, { name: "x", type: "file", path: "/tmp/x.jsonl" }, { name: "y", type: "file", path: "/tmp/./x.jsonl" }] }), [
      "sinks[1].name: sinks[0] has the same name 'x'",
      "sinks[2].path: sinks[1] writes the same file",
    ]);
    assert.deepEqual(problems({ sinks: [{ name: "../etc", type: "stdout" }] }), ["sinks[0].name: must be 1-63 letters, digits, '_', '.' or '-', starting with a letter or digit"]);
  });

  it("prefixes fields with where the section sits, and never repeats a secret", () => {
    try {
      parseExportConfig({ sinks: [{ type: "webhook", url: "https://siem.example.com/", secretEnv: "SHORT" }] }, { env, at: "audit.export", source: "tenet.yaml" });
      assert.fail("expected an error");
    } catch (err) {
      assert.ok(err instanceof TenetError);
      assert.equal(err.message, "invalid audit export configuration in tenet.yaml: audit.export.sinks[0].secretEnv: the environment variable SHORT holds fewer than 16 characters");
      assert.ok(!err.message.includes("short"));
    }
  });
});
