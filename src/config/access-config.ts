/**
 * The access configuration: what access decisions use beside the policies (the risk engine's
 * settings, named network zones, just-in-time access and its webhooks, who hears of notices).
 * An optional YAML file (`TENET_ACCESS_CONFIG` or `tenet serve --access-config FILE`), read and
 * validated once at start; without one every section takes its defaults.
 *
 *   risk:                                   # the risk engine (src/policy/risk/config.ts)
 *     ipReputation: { deny: ["203.0.113.0/24"], denyFiles: [deny.txt] }
 *   zones:                                  # request.zones in policy conditions
 *     corp: ["10.0.0.0/8", "2001:db8::/32"]
 *     vpn: ["100.64.0.0/10"]
 *   jit:
 *     maxDuration: 8h                       # the longest grant a request may get
 *     breakGlassMaxDuration: 1h
 *     pendingTtl: 24h                       # undecided requests expire after this
 *     webhooks:                             # the outbox's events, POSTed and signed
 *       - url: https://hooks.example.com/tenet
 *         secretEnv: TENET_WEBHOOK_SECRET   # or `secret: ...` inline (at least 16 characters)
 *   notify:
 *     security: ["user:secops"]             # recipients of `notify: [security]`
 *
 * Strict: an unknown key is an error (a misspelt setting must not silently do nothing), and every
 * error names the file and the field. Secrets are never part of an error message, and a resolved
 * webhook secret is not enumerable, so logging or serialising the configuration does not show it.
 * Relative file names in `risk` are resolved against the file's directory.
 */
import { type AuditExportConfig, parseExportConfig } from "../audit/export/config.js";
import { type IdentityConfig, parseIdentityConfig } from "./identity-config.js";
import { parseRoutes, type ProxyRoute } from "../enforcement/routes.js";
import { readFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { LineCounter, parseDocument } from "yaml";
import { z } from "zod";
import { DEFAULT_TRUSTED_PEERS } from "../enforcement/trusted-peers.js";
import { type ErrorDetail, TenetError } from "../errors.js";
import { parseRiskConfig, type RiskConfig, SIGNAL_NAMES } from "../policy/risk/config.js";
import { parseCidr } from "../policy/risk/ip.js";
import { parseDuration } from "../policy/jit/duration.js";
import { MIN_SECRET_LENGTH, type WebhookEndpoint, webhookEndpoints } from "../policy/jit/endpoints.js";
import { subject } from "../policy/jit/validate.js";

export interface AccessConfig {
  /** The file it was read from; undefined for the defaults. */
  source: string | undefined;
  /** Relative risk data files are resolved against this. */
  baseDir: string;
  risk: RiskConfig;
  /** Zone name → CIDRs (validated). */
  zones: Record<string, string[]>;
  jit: {
    maxDuration: string;
    breakGlassMaxDuration: string;
    pendingTtl: string;
    webhooks: WebhookEndpoint[];
  };
  notify: { security: string[] };
  audit: {
    /** Sign a checkpoint every this many entries, and at least this often (ms). */
    checkpointEvery: number;
    checkpointIntervalMs: number;
    /** Entries older than this are pruned (ms); undefined = kept forever. */
    retentionMs: number | undefined;
    /** The log's identity in checkpoints (and the signing key's name). */
    origin: string;
    /** Also record relationship queries (OpenFGA Check/BatchCheck, AuthZEN without access policies). */
    relationshipQueries: boolean;
    export: AuditExportConfig;
  };
  /** The identity provider (identity-config.ts). */
  identity: IdentityConfig;
  /** The identity-aware proxy's routes (src/enforcement/routes.ts), and whom ext_authz believes. */
  proxy: { routes: ProxyRoute[]; extAuthzTrustedPeers: string[] };
}

const ZONE_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

const duration = (dflt: string) =>
  z
    .string()
    .refine((s) => valid(() => parseDuration(s)), "must be a duration such as '30m', '8h', '1h30m' or 'PT1H'")
    .default(dflt);

const cidr = z.string().refine((s) => parseCidr(s.trim()) !== undefined, "must be an IP address or CIDR range (e.g. 10.0.0.0/8, 2001:db8::/32)");
const subjectId = z.string().refine((s) => valid(() => subject(s, "recipient")), "must be one subject such as 'user:secops'");

const webhook = z
  .strictObject({
    url: z.string().min(1),
    /** Inline; prefer secretEnv so the file can be kept in Git. */
    secret: z.string().optional(),
    /** The name of an environment variable holding the secret. */
    secretEnv: z.string().regex(ENV_NAME, "must be an environment variable name").optional(),
  })
  .superRefine((w, ctx) => {
    if ((w.secret === undefined) === (w.secretEnv === undefined)) ctx.addIssue({ code: "custom", message: "give exactly one of secret and secretEnv" });
  });

const webhookList = z.array(webhook).default([]);

const schema = z.strictObject({
  /** Checked by parseRiskConfig, whose messages know its fields. */
  risk: z.unknown().optional(),
  zones: z.record(z.string().regex(ZONE_NAME, "a zone name is letters, digits, '_', '.' and '-' (at most 64)"), z.array(cidr).min(1, "a zone needs at least one range")).default({}),
  jit: z
    .strictObject({
      maxDuration: duration("8h"),
      breakGlassMaxDuration: duration("1h"),
      pendingTtl: duration("24h"),
      webhooks: webhookList,
    })
    .prefault({}),
  notify: z.strictObject({ security: z.array(subjectId).default([]) }).prefault({}),
  audit: z
    .strictObject({
      checkpointEvery: z.number().int().min(1).max(1_000_000).default(1000),
      checkpointInterval: duration("5s"),
      /** e.g. `90d`, `400d`; absent = keep everything. */
      retention: z
        .string()
        .refine((s) => valid(() => parseDuration(s)), "must be a duration such as '90d' or '2160h'")
        .optional(),
      origin: z
        .string()
        .regex(/^[A-Za-z0-9][A-Za-z0-9._/:-]{0,127}$/, "must be a log name such as 'tenet.example.com/audit' (no spaces or '+')")
        .default("tenet/audit"),
      relationshipQueries: z.boolean().default(false),
      /** Checked by parseExportConfig, whose messages know its fields. */
      export: z.unknown().optional(),
    })
    .prefault({}),
  /** Checked by parseIdentityConfig. */
  identity: z.unknown().optional(),
  /** Routes checked by parseRoutes. */
  proxy: z
    .strictObject({
      routes: z.unknown().optional(),
      /** Envoy's addresses: X-Forwarded-* sent to ext_authz are believed only from these (CIDRs). */
      extAuthz: z.strictObject({ trustedPeers: z.array(z.string().refine((c) => parseCidr(c) !== undefined, "must be an address or CIDR range such as 10.0.0.0/8")).max(1000).optional() }).prefault({}),
    })
    .prefault({}),
});

export interface ParseAccessConfigOptions {
  /** The file (for messages and relative paths); undefined for an object given in code. */
  source?: string | undefined;
  /** Where `secretEnv` names are looked up (default process.env). */
  env?: NodeJS.ProcessEnv;
  /** Default: the file's directory, else the working directory. */
  baseDir?: string;
}

/** Validates and completes an access configuration; throws a `validation_error` naming every wrong field. */
export function parseAccessConfig(raw: unknown, opts: ParseAccessConfigOptions = {}): AccessConfig {
  const where = opts.source ?? "access configuration";
  const details: ErrorDetail[] = [];
  const parsed = schema.safeParse(raw ?? {});
  if (!parsed.success) for (const i of parsed.error.issues) details.push(...issueDetails(i));
  const input = (typeof raw === "object" && raw !== null ? raw : {}) as { risk?: unknown; jit?: { webhooks?: unknown } | null; audit?: { export?: unknown } | null; identity?: unknown };
  const identity = parseIdentityConfig(input.identity, details);
  let proxyRoutes: ProxyRoute[] | undefined = [];
  try {
    proxyRoutes = parseRoutes((input as { proxy?: { routes?: unknown } }).proxy?.routes, "proxy.routes");
  } catch (err) {
    if (!(err instanceof TenetError)) throw err;
    proxyRoutes = undefined;
    details.push(...(err.details.length > 0 ? err.details : [{ where: "proxy.routes", message: err.message }]));
  }
  let exportConfig: AuditExportConfig | undefined;
  try {
    exportConfig = parseExportConfig(input.audit?.export, { at: "audit.export", ...(opts.source !== undefined ? { source: opts.source } : {}), baseDir: opts.baseDir ?? (opts.source !== undefined ? dirname(resolve(opts.source)) : process.cwd()), env: opts.env ?? process.env });
  } catch (err) {
    if (!(err instanceof TenetError)) throw err;
    details.push(...(err.details.length > 0 ? err.details : [{ where: "audit.export", message: err.message }]));
  }
  let risk: RiskConfig | undefined;
  try {
    risk = parseRiskConfig(input.risk, "risk");
    // The server runs the built-in signals only: a weight for another name would stop the
    // engine from being built, after the database is open; say so here instead.
    for (const name of Object.keys(risk.weights)) {
      if (!(SIGNAL_NAMES as readonly string[]).includes(name)) details.push({ where: `risk.weights.${name}`, message: `there is no signal named '${name}' (signals: ${SIGNAL_NAMES.join(", ")})` });
    }
  } catch (err) {
    if (!(err instanceof TenetError)) throw err;
    details.push(...err.details);
  }
  let webhooks: WebhookEndpoint[] = [];
  // Checked on their own, so their problems are reported beside those of other sections; their
  // shape problems (above) are not reported twice.
  const shaped = webhookList.safeParse(input.jit?.webhooks);
  if (shaped.success) {
    const resolved = resolveSecrets(shaped.data, opts.env ?? process.env, details);
    if (resolved) {
      try {
        webhooks = webhookEndpoints(resolved, "jit.webhooks").map(hideSecret);
      } catch (err) {
        if (!(err instanceof TenetError)) throw err;
        // webhookEndpoints says `jit.webhooks[0].url …`: the field leads the message already.
        const m = /^(jit\.webhooks\[\d+\](?:\.\w+)?) (.*)$/.exec(err.message);
        details.push(m ? { where: m[1]!, message: m[2]! } : { where: "jit.webhooks", message: err.message });
      }
    }
  }
  if (details.length > 0 || !parsed.success || risk === undefined || exportConfig === undefined || identity === undefined || proxyRoutes === undefined) {
    throw new TenetError("validation_error", `invalid access configuration in ${where}: ${details.map((d) => `${d.where}: ${d.message}`).join("; ")}`, { details });
  }
  const { zones, jit, notify, audit } = parsed.data;
  return {
    source: opts.source,
    baseDir: opts.baseDir ?? (opts.source !== undefined ? dirname(resolve(opts.source)) : process.cwd()),
    risk,
    zones,
    jit: { maxDuration: jit.maxDuration, breakGlassMaxDuration: jit.breakGlassMaxDuration, pendingTtl: jit.pendingTtl, webhooks },
    notify,
    audit: {
      checkpointEvery: audit.checkpointEvery,
      checkpointIntervalMs: parseDuration(audit.checkpointInterval),
      retentionMs: audit.retention === undefined ? undefined : parseDuration(audit.retention),
      origin: audit.origin,
      relationshipQueries: audit.relationshipQueries,
      export: exportConfig,
    },
    identity,
    proxy: { routes: proxyRoutes, extAuthzTrustedPeers: parsed.data.proxy.extAuthz.trustedPeers ?? DEFAULT_TRUSTED_PEERS },
  };
}

/** Every section at its defaults (no file given). */
export function defaultAccessConfig(): AccessConfig {
  return parseAccessConfig({});
}

/** Reads and validates the YAML file; errors name the file (and the line, for YAML syntax). */
export function loadAccessConfig(file: string, env: NodeJS.ProcessEnv = process.env): AccessConfig {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? (err as Error).message;
    throw new TenetError("validation_error", `invalid access configuration: cannot read ${file} (${code})`);
  }
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false });
  const bad = doc.errors[0];
  if (bad) {
    const line = lines.linePos(bad.pos[0]).line;
    throw new TenetError("validation_error", `invalid access configuration in ${file}:${line}: YAML: ${bad.message.split("\n")[0]}`);
  }
  const raw: unknown = doc.toJS({ maxAliasCount: 100 });
  if (raw !== null && raw !== undefined && (typeof raw !== "object" || Array.isArray(raw))) {
    throw new TenetError("validation_error", `invalid access configuration in ${file}: the file must be a mapping (risk, zones, jit, notify)`);
  }
  return parseAccessConfig(raw, { source: file, env });
}

/** `secretEnv` → the variable's value; problems go to `details` (never the value itself). */
function resolveSecrets(list: Array<{ url: string; secret?: string | undefined; secretEnv?: string | undefined }>, env: NodeJS.ProcessEnv, details: ErrorDetail[]) {
  let ok = true;
  const out = list.map((w, i) => {
    if (w.secretEnv === undefined) return { url: w.url, secret: w.secret };
    const value = env[w.secretEnv];
    const at = `jit.webhooks[${i}].secretEnv`;
    if (value === undefined || value === "") {
      details.push({ where: at, message: `the environment variable ${w.secretEnv} is not set` });
      ok = false;
    } else if (value.length < MIN_SECRET_LENGTH) {
      details.push({ where: at, message: `the environment variable ${w.secretEnv} holds fewer than ${MIN_SECRET_LENGTH} characters` });
      ok = false;
    }
    return { url: w.url, secret: value };
  });
  return ok ? out : undefined;
}

/** The secret stays readable (`e.secret`) but out of JSON, logs and spreads. */
function hideSecret(e: WebhookEndpoint): WebhookEndpoint {
  const out = { url: e.url } as WebhookEndpoint;
  Object.defineProperty(out, "secret", { value: e.secret, enumerable: false });
  return out;
}

function issueDetails(i: z.core.$ZodIssue): ErrorDetail[] {
  if (i.code === "unrecognized_keys") return i.keys.map((k) => ({ where: fieldPath([...i.path, k]), message: "is not an access setting (check the spelling)" }));
  if (i.code === "invalid_key") return [{ where: fieldPath(i.path), message: `key: ${i.issues[0]?.message ?? i.message}` }];
  return [{ where: fieldPath(i.path), message: i.message }];
}

/** `jit.webhooks[0].url` from a zod issue path. */
function fieldPath(path: readonly PropertyKey[]): string {
  let out = "";
  for (const p of path) out += typeof p === "number" ? `[${p}]` : out === "" ? String(p) : `.${String(p)}`;
  return out === "" ? "(access configuration)" : out;
}

function valid(fn: () => unknown): boolean {
  try {
    fn();
    return true;
  } catch {
    return false;
  }
}
