/**
 * Where the audit log is exported: a list of sinks, from a plain object (a YAML or JSON section),
 * validated once at start. Strict: an unknown key is an error, and every error names the field.
 * Secrets come from the environment only (`secretEnv`, `headersEnv`), are never part of an error
 * message, and are kept out of the parsed object's enumerable fields.
 *
 *   sinks:
 *     - name: siem                          # optional; the cursor's id (default: the type)
 *       type: webhook
 *       url: https://siem.example.com/tenet # http or https, no credentials in it
 *       secretEnv: TENET_AUDIT_WEBHOOK_SECRET   # HMAC key (>= 16 characters): tenet-signature
 *       format: json                        # json (default) | ndjson
 *       headersEnv: { authorization: SIEM_TOKEN }   # more headers, values from the environment
 *       batchSize: 500                      # entries per POST (default 500)
 *       maxBatchBytes: 1MiB                 # event bytes per POST (default 1 MiB)
 *       flushMs: 1000                       # wait up to this for a full batch (default 1000)
 *       timeoutMs: 10000                    # per attempt (default 10000)
 *     - name: local
 *       type: file
 *       path: /var/log/tenet/audit.jsonl    # relative: to the configuration file's directory
 *       rotate: { maxBytes: 100MiB, maxAge: 1d, maxFiles: 10 }   # maxBytes and/or maxAge
 *     - type: syslog
 *       host: logs.example.com
 *       protocol: tls                       # udp | tcp | tls (required: UDP may lose entries)
 *       port: 6514                          # default 514 (udp, tcp), 6514 (tls)
 *       caFile: /etc/tenet/syslog-ca.pem    # tls: trust these CAs (default: Node's list)
 *       certFile: client.pem                # tls: client certificate and key, both or neither
 *       keyFile: client-key.pem
 *       facility: authpriv                  # a name or 0-23 (default authpriv = 10)
 *       appName: tenet                      # APP-NAME (default tenet)
 *       hostname: gw-1                      # HOSTNAME (default: the machine's name)
 *       enterpriseId: 32473                 # the SD-ID's PEN: tenet@32473 (default, RFC 5612's)
 *       bom: true                           # BOM before MSG (RFC 5424 §6.4; default true)
 *       maxMessageBytes: 8192               # default 2048 (udp, RFC 5426 §3.2), 8192 (tcp, tls)
 *     - type: stdout
 *
 * Every sink also takes `startAt: beginning | end` (where a sink with no stored cursor starts:
 * the first entry (default), or the next one appended) and
 * `retry: { initialMs: 1000, maxMs: 300000, stuckMs: 60000 }` (backoff after transient failures;
 * the slower pace while the receiver refuses the batch). Sizes are bytes or `512KiB`, `100MiB`,
 * `1GB`; `maxAge` is a duration (`12h`, `1d`) or milliseconds.
 */
import { readFileSync } from "node:fs";
import { isIP } from "node:net";
import { hostname as osHostname } from "node:os";
import { resolve } from "node:path";
import { z } from "zod";
import { type ErrorDetail, TenetError } from "../../errors.js";
import { parseDuration } from "../../policy/jit/duration.js";
import type { RetryPolicy } from "./backoff.js";
import type { SinkRunnerOptions } from "./sink-runner.js";
import { FACILITIES, type FacilityName } from "./syslog/message.js";

export const MIN_SECRET_LENGTH = 16;

interface CommonSinkConfig {
  /** Unique; the id of the sink's cursor and its metrics label. */
  name: string;
  runner: SinkRunnerOptions;
}

export interface FileSinkConfig extends CommonSinkConfig {
  type: "file";
  /** Absolute. */
  path: string;
  rotate: { maxBytes: number | undefined; maxAgeMs: number | undefined; maxFiles: number } | undefined;
}

export interface StdoutSinkConfig extends CommonSinkConfig {
  type: "stdout";
}

export interface SyslogSinkConfig extends CommonSinkConfig {
  type: "syslog";
  host: string;
  port: number;
  protocol: "udp" | "tcp" | "tls";
  facility: number;
  appName: string;
  hostname: string;
  enterpriseId: number;
  bom: boolean;
  maxMessageBytes: number;
  /** PEM text read from caFile / certFile / keyFile. */
  tls: { ca: string | undefined; cert: string | undefined; key: string | undefined } | undefined;
  timeoutMs: number;
}

export interface WebhookSinkConfig extends CommonSinkConfig {
  type: "webhook";
  url: string;
  format: "json" | "ndjson";
  timeoutMs: number;
  /** Not enumerable. */
  secret: string;
  /** Header name → value; not enumerable. */
  headers: Record<string, string>;
}

export type SinkConfig = FileSinkConfig | StdoutSinkConfig | SyslogSinkConfig | WebhookSinkConfig;

export interface AuditExportConfig {
  sinks: SinkConfig[];
  /** Settings that work but are unsafe (plain http to another host): log them at start. */
  warnings: string[];
}

export interface ParseExportConfigOptions {
  /** Where the section is, for messages: `audit.export` gives `audit.export.sinks[0].url`. */
  at?: string;
  /** The file it came from (for messages). */
  source?: string;
  /** Relative paths (file sinks, TLS files) are resolved against this (default: the working directory). */
  baseDir?: string;
  /** Where `secretEnv` and `headersEnv` are looked up (default process.env). */
  env?: NodeJS.ProcessEnv;
}

const NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/;
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
/** RFC 9110 §5.6.2 token. */
const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
/** Headers the sink sets itself (or the HTTP client does). */
const RESERVED_HEADERS = new Set(["host", "content-type", "content-length", "transfer-encoding", "connection", "user-agent", "idempotency-key", "tenet-signature"]);
const PRINTUSASCII = /^[\x21-\x7e]+$/;
const HOST_LABEL = /^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?$/;
const SIZE = /^(\d+(?:\.\d+)?)\s*(b|k|kb|kib|ki|m|mb|mib|mi|g|gb|gib|gi)?$/i;
const UNITS: Record<string, number> = { b: 1, k: 1e3, kb: 1e3, m: 1e6, mb: 1e6, g: 1e9, gb: 1e9, ki: 1024, kib: 1024, mi: 1024 ** 2, mib: 1024 ** 2, gi: 1024 ** 3, gib: 1024 ** 3 };

/** Bytes from a number or `100MiB` / `1GB` / `512k`, within [min, max]. */
function byteSize(min: number, max: number) {
  return z.union([z.number(), z.string()]).transform((v, ctx) => {
    let n: number;
    if (typeof v === "number") n = v;
    else {
      const m = SIZE.exec(v.trim());
      n = m ? Math.floor(Number(m[1]) * UNITS[(m[2] ?? "b").toLowerCase()]!) : Number.NaN;
    }
    if (!Number.isInteger(n) || n < min || n > max) {
      ctx.addIssue({ code: "custom", message: `must be a size from ${min} to ${max} bytes, as a number or with a unit (512KiB, 100MiB, 1GB)` });
      return z.NEVER;
    }
    return n;
  });
}

/** Milliseconds from a number or a duration (`30s`, `12h`, `1d`, `PT1H`). */
const duration = z.union([z.number(), z.string()]).transform((v, ctx) => {
  if (typeof v === "number") {
    if (Number.isInteger(v) && v > 0) return v;
  } else {
    try {
      return parseDuration(v);
    } catch {
      // reported below
    }
  }
  ctx.addIssue({ code: "custom", message: "must be a duration such as '12h', '1d' or 'PT1H', or a number of milliseconds" });
  return z.NEVER;
});

const ms = (min: number, max: number) => z.number().int().min(min).max(max);
const envName = z.string().regex(ENV_NAME, "must be an environment variable name");
const port = z.number().int().min(1, "must be a port number (1-65535)").max(65535, "must be a port number (1-65535)");

const host = z
  .string()
  .min(1)
  .refine((h) => isIP(h) !== 0 || (h.length <= 253 && h.split(".").every((l) => HOST_LABEL.test(l))), "must be a host name or an IP address (no scheme, no port)");

const common = {
  name: z.string().regex(NAME, "must be 1-63 letters, digits, '_', '.' or '-', starting with a letter or digit").optional(),
  batchSize: z.number().int().min(1).max(10_000).optional(),
  maxBatchBytes: byteSize(1024, 64 * 1024 * 1024).optional(),
  flushMs: ms(0, 60_000).optional(),
  startAt: z.enum(["beginning", "end"]).default("beginning"),
  retry: z
    .strictObject({
      initialMs: ms(10, 60_000).default(1000),
      maxMs: ms(100, 3_600_000).default(300_000),
      stuckMs: ms(1000, 86_400_000).default(60_000),
    })
    .prefault({}),
};

const fileSchema = z.strictObject({
  type: z.literal("file"),
  ...common,
  path: z.string().min(1),
  rotate: z
    .strictObject({
      maxBytes: byteSize(1024, 1024 ** 4).optional(),
      maxAge: duration.optional(),
      maxFiles: z.number().int().min(1).max(1000).default(10),
    })
    .refine((r) => r.maxBytes !== undefined || r.maxAge !== undefined, "give maxBytes, maxAge or both")
    .optional(),
});

const stdoutSchema = z.strictObject({ type: z.literal("stdout"), ...common });

const syslogSchema = z.strictObject({
  type: z.literal("syslog"),
  ...common,
  host,
  port: port.optional(),
  protocol: z.enum(["udp", "tcp", "tls"], "must be udp, tcp or tls"),
  facility: z
    .union([z.string(), z.number()])
    .refine((f) => (typeof f === "number" ? Number.isInteger(f) && f >= 0 && f <= 23 : Object.hasOwn(FACILITIES, f)), `must be 0-23 or one of ${Object.keys(FACILITIES).join(", ")}`)
    .default("authpriv"),
  appName: z.string().max(48).regex(PRINTUSASCII, "must be printable ASCII without spaces").default("tenet"),
  hostname: z.string().max(255).regex(PRINTUSASCII, "must be printable ASCII without spaces").optional(),
  enterpriseId: z.number().int().min(1).max(2 ** 31 - 1).default(32473),
  bom: z.boolean().default(true),
  maxMessageBytes: z.number().int().min(480).max(1024 * 1024).optional(),
  caFile: z.string().min(1).optional(),
  certFile: z.string().min(1).optional(),
  keyFile: z.string().min(1).optional(),
  timeoutMs: ms(100, 600_000).default(10_000),
});

const webhookSchema = z.strictObject({
  type: z.literal("webhook"),
  ...common,
  url: z.string().min(1),
  secretEnv: envName,
  format: z.enum(["json", "ndjson"]).default("json"),
  headersEnv: z.record(z.string().regex(HEADER_NAME, "must be an HTTP header name"), envName).default({}),
  timeoutMs: ms(100, 600_000).default(10_000),
});

const schema = z.strictObject({
  sinks: z.array(z.discriminatedUnion("type", [fileSchema, stdoutSchema, syslogSchema, webhookSchema])).default([]),
});

const DEFAULTS: Record<SinkConfig["type"], { batchSize: number; flushMs: number }> = {
  file: { batchSize: 1000, flushMs: 0 },
  stdout: { batchSize: 1000, flushMs: 0 },
  syslog: { batchSize: 500, flushMs: 0 },
  webhook: { batchSize: 500, flushMs: 1000 },
};

/** Validates the export section; throws a `validation_error` naming every wrong field. */
export function parseExportConfig(raw: unknown, opts: ParseExportConfigOptions = {}): AuditExportConfig {
  const at = opts.at ?? "";
  const field = (path: readonly PropertyKey[]) => fieldPath(at, path);
  const details: ErrorDetail[] = [];
  const warnings: string[] = [];
  const env = opts.env ?? process.env;
  const baseDir = opts.baseDir ?? process.cwd();
  const parsed = schema.safeParse(raw ?? {});
  if (!parsed.success) {
    for (const i of parsed.error.issues) details.push(...issueDetails(i, field));
    throw invalid(opts, at, details);
  }
  const sinks: SinkConfig[] = [];
  const names = new Map<string, number>();
  const paths = new Map<string, number>();
  parsed.data.sinks.forEach((s, i) => {
    const where = (key: string) => field(["sinks", i, key]);
    const name = s.name ?? s.type;
    const earlier = names.get(name);
    if (earlier !== undefined) {
      details.push({ where: where("name"), message: s.name === undefined ? `another sink (sinks[${earlier}]) is already called '${name}': give each sink of the same type a name` : `sinks[${earlier}] has the same name '${name}'` });
    }
    names.set(name, i);
    const dflt = DEFAULTS[s.type];
    const runner: SinkRunnerOptions = {
      batchSize: s.batchSize ?? dflt.batchSize,
      maxBatchBytes: s.maxBatchBytes ?? 1024 * 1024,
      flushMs: s.flushMs ?? dflt.flushMs,
      startAt: s.startAt,
      retry: s.retry satisfies RetryPolicy,
    };
    if (s.retry.maxMs < s.retry.initialMs) details.push({ where: field(["sinks", i, "retry", "maxMs"]), message: "must not be less than retry.initialMs" });
    switch (s.type) {
      case "stdout":
        sinks.push({ type: "stdout", name, runner });
        break;
      case "file": {
        const path = resolve(baseDir, s.path);
        const other = paths.get(path);
        if (other !== undefined) details.push({ where: where("path"), message: `sinks[${other}] writes the same file` });
        paths.set(path, i);
        sinks.push({ type: "file", name, runner, path, rotate: s.rotate && { maxBytes: s.rotate.maxBytes, maxAgeMs: s.rotate.maxAge, maxFiles: s.rotate.maxFiles } });
        break;
      }
      case "syslog": {
        const udp = s.protocol === "udp";
        const maxMessageBytes = s.maxMessageBytes ?? (udp ? 2048 : 8192);
        if (udp && maxMessageBytes > 65_507) details.push({ where: where("maxMessageBytes"), message: "a UDP datagram holds at most 65507 bytes" });
        let tls: SyslogSinkConfig["tls"];
        if (s.protocol === "tls") {
          const read = (key: "caFile" | "certFile" | "keyFile", marker: RegExp, what: string) => {
            const file = s[key];
            if (file === undefined) return undefined;
            const text = readText(resolve(baseDir, file), where(key), details);
            if (text !== undefined && !marker.test(text)) details.push({ where: where(key), message: `${file} holds no PEM ${what}` });
            return text;
          };
          tls = {
            ca: read("caFile", /-----BEGIN CERTIFICATE-----/, "certificate"),
            cert: read("certFile", /-----BEGIN CERTIFICATE-----/, "certificate"),
            key: read("keyFile", /-----BEGIN [A-Z ]*PRIVATE KEY-----/, "private key"),
          };
          if ((s.certFile === undefined) !== (s.keyFile === undefined)) details.push({ where: where(s.certFile === undefined ? "certFile" : "keyFile"), message: "give both certFile and keyFile (a client certificate and its key), or neither" });
        } else {
          for (const key of ["caFile", "certFile", "keyFile"] as const) {
            if (s[key] !== undefined) details.push({ where: where(key), message: "applies to protocol tls only" });
          }
        }
        if (udp) warnings.push(`audit export ${name}: syslog over UDP may lose entries without anyone noticing; prefer tcp or tls`);
        sinks.push({
          type: "syslog",
          name,
          runner,
          host: s.host,
          port: s.port ?? (s.protocol === "tls" ? 6514 : 514),
          protocol: s.protocol,
          facility: typeof s.facility === "number" ? s.facility : FACILITIES[s.facility as FacilityName],
          appName: s.appName,
          hostname: s.hostname ?? osHostname(),
          enterpriseId: s.enterpriseId,
          bom: s.bom,
          maxMessageBytes,
          tls,
          timeoutMs: s.timeoutMs,
        });
        break;
      }
      case "webhook": {
        const url = checkUrl(s.url, where("url"), details, warnings, name);
        const secret = env[s.secretEnv];
        if (secret === undefined || secret === "") details.push({ where: where("secretEnv"), message: `the environment variable ${s.secretEnv} is not set` });
        else if (secret.length < MIN_SECRET_LENGTH) details.push({ where: where("secretEnv"), message: `the environment variable ${s.secretEnv} holds fewer than ${MIN_SECRET_LENGTH} characters` });
        const headers: Record<string, string> = {};
        for (const [header, variable] of Object.entries(s.headersEnv)) {
          const lower = header.toLowerCase();
          const at = field(["sinks", i, "headersEnv", header]);
          if (RESERVED_HEADERS.has(lower) || lower.startsWith("tenet-audit-")) details.push({ where: at, message: "is set by the exporter itself" });
          const value = env[variable];
          if (value === undefined || value === "") details.push({ where: at, message: `the environment variable ${variable} is not set` });
          else if (/[\r\n\0]/.test(value)) details.push({ where: at, message: `the environment variable ${variable} holds a line break` });
          else headers[lower] = value;
        }
        const sink = { type: "webhook", name, runner, url: url ?? s.url, format: s.format, timeoutMs: s.timeoutMs } as WebhookSinkConfig;
        Object.defineProperty(sink, "secret", { value: secret ?? "", enumerable: false });
        Object.defineProperty(sink, "headers", { value: headers, enumerable: false });
        sinks.push(sink);
        break;
      }
    }
  });
  if (details.length > 0) throw invalid(opts, at, details);
  return { sinks, warnings };
}

function checkUrl(text: string, where: string, details: ErrorDetail[], warnings: string[], name: string): string | undefined {
  let u: URL;
  try {
    u = new URL(text);
  } catch {
    details.push({ where, message: "is not a URL" });
    return undefined;
  }
  if (u.protocol !== "http:" && u.protocol !== "https:") {
    details.push({ where, message: `must use http or https, not '${u.protocol.replace(/:$/, "")}'` });
    return undefined;
  }
  if (u.username !== "" || u.password !== "") {
    details.push({ where, message: "must not hold credentials: the receiver checks tenet-signature (or give headersEnv)" });
    return undefined;
  }
  const loopback = u.hostname === "localhost" || u.hostname === "[::1]" || u.hostname.startsWith("127.");
  if (u.protocol === "http:" && !loopback) warnings.push(`audit export ${name}: ${u.origin} is plain http: audit entries cross the network unencrypted; use https`);
  return u.href;
}

function readText(file: string, where: string, details: ErrorDetail[]): string | undefined {
  try {
    return readFileSync(file, "utf8");
  } catch (err) {
    details.push({ where, message: `cannot read ${file} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})` });
    return undefined;
  }
}

function invalid(opts: ParseExportConfigOptions, at: string, details: ErrorDetail[]): TenetError {
  const where = opts.source ?? (at === "" ? "audit export configuration" : at);
  return new TenetError("validation_error", `invalid audit export configuration in ${where}: ${details.map((d) => `${d.where}: ${d.message}`).join("; ")}`, { details });
}

function issueDetails(i: z.core.$ZodIssue, field: (path: readonly PropertyKey[]) => string): ErrorDetail[] {
  if (i.code === "unrecognized_keys") return i.keys.map((k) => ({ where: field([...i.path, k]), message: "is not an audit export setting (check the spelling)" }));
  if (i.code === "invalid_union" && i.path[i.path.length - 1] === "type") return [{ where: field(i.path), message: "must be one of file, stdout, syslog, webhook" }];
  if (i.code === "invalid_key") return [{ where: field(i.path), message: `key: ${i.issues[0]?.message ?? i.message}` }];
  if (i.code === "invalid_type" && i.message.endsWith("received undefined")) return [{ where: field(i.path), message: "is required" }];
  return [{ where: field(i.path), message: i.message }];
}

/** `audit.export.sinks[0].url` from a zod issue path. */
function fieldPath(at: string, path: readonly PropertyKey[]): string {
  let out = at;
  for (const p of path) out += typeof p === "number" ? `[${p}]` : out === "" ? String(p) : `.${String(p)}`;
  return out === "" ? "(audit export configuration)" : out;
}
