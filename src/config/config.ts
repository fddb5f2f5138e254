/**
 * Tenet's configuration: one schema, read once at start from the environment (and CLI flags),
 * with messages that name the variable to change. Secrets never get defaults here.
 */
import { homedir } from "node:os";
import { join } from "node:path";
import { z } from "zod";
import { TenetError } from "../errors.js";

const port = z.coerce.number().int().min(0).max(65535);

export const configSchema = z.object({
  /** Where embedded data lives (SQLite database, bootstrap token). */
  dataDir: z.string().min(1),
  /** `postgres://...` switches storage to PostgreSQL; unset means embedded SQLite in dataDir. */
  databaseUrl: z
    .string()
    .regex(/^postgres(ql)?:\/\//, "must be a postgres:// or postgresql:// URL")
    .optional(),
  host: z.string().min(1),
  port,
  logLevel: z.enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"]),
  /** Store served at /access/v1/... (AuthZEN without a store in the path). */
  defaultStoreId: z.string().regex(/^[0-7][0-9A-HJKMNP-TV-Z]{25}$/, "must be a store id (ULID)").optional(),
  /** Admin API key to install at start (`tenet_<16 hex>_<43 base64url>`); never defaulted. */
  adminToken: z.string().regex(/^tenet_[0-9a-f]{16}_[A-Za-z0-9_-]{43}$/, "must look like tenet_<16 hex>_<43 base64url> (create one with `tenet token create`)").optional(),
  /** Trusted OIDC issuers for bearer JWTs: JSON `[{"issuer": "...", "audience": "..."}]`. */
  oidcIssuers: z.array(z.object({ issuer: z.url(), audience: z.string().min(1), jwksUri: z.url().optional() })),
  /** How often replicas re-read the change log when no notification arrives (ms). */
  syncIntervalMs: z.coerce.number().int().min(50).max(60_000),
  requestTimeoutMs: z.coerce.number().int().min(100).max(600_000),
  bodyLimitBytes: z.coerce.number().int().min(1024).max(64 * 1024 * 1024),
  /** The access configuration file (risk, zones, JIT, notices: access-config.ts); unset = defaults. */
  accessConfig: z.string().min(1).optional(),
  /** PEM certificate chain to serve HTTPS with (with tlsKeyFile; both or neither). */
  tlsCertFile: z.string().min(1).optional(),
  /** PEM private key of tlsCertFile. */
  tlsKeyFile: z.string().min(1).optional(),
  /** How often the certificate files are checked for a renewal (ms). */
  tlsReloadMs: z.coerce.number().int().min(100).max(600_000),
  /**
   * What this process runs: `all` (API, decision point, identity provider and proxy over one
   * storage) or `proxy` (the identity-aware proxy and ext_authz alone, asking a remote Tenet).
   */
  roles: z.enum(["all", "proxy"]),
  /** `--roles proxy`: the remote Tenet whose decision point is asked (its API base URL). */
  decisionUrl: z.url({ protocol: /^https?$/ }).optional(),
  /** `--roles proxy`: an API key of the remote Tenet with the `check` scope. */
  decisionToken: z.string().min(16).max(512).optional(),
  /** `--roles proxy`: the OpenID provider users sign in with (default `<decisionUrl>/oidc`). */
  proxyIssuer: z.url({ protocol: /^https?$/ }).optional(),
  /** `--roles proxy`: the proxy's OAuth client at that provider. */
  proxyClientId: z.string().min(1).max(256),
  proxyClientSecret: z.string().min(1).max(512).optional(),
  /** `--roles proxy`: the ES256 key identity assertions are signed with (PEM; created if absent). */
  proxySigningKeyFile: z.string().min(1).optional(),
});

export type Config = z.infer<typeof configSchema>;

const ENV_NAMES: Record<keyof Config, string> = {
  dataDir: "TENET_DATA_DIR",
  databaseUrl: "TENET_DATABASE_URL",
  host: "TENET_HOST",
  port: "TENET_PORT",
  logLevel: "TENET_LOG_LEVEL",
  defaultStoreId: "TENET_DEFAULT_STORE",
  adminToken: "TENET_ADMIN_TOKEN",
  oidcIssuers: "TENET_OIDC_ISSUERS",
  syncIntervalMs: "TENET_SYNC_INTERVAL_MS",
  requestTimeoutMs: "TENET_REQUEST_TIMEOUT_MS",
  bodyLimitBytes: "TENET_BODY_LIMIT_BYTES",
  accessConfig: "TENET_ACCESS_CONFIG",
  tlsCertFile: "TENET_TLS_CERT_FILE",
  tlsKeyFile: "TENET_TLS_KEY_FILE",
  tlsReloadMs: "TENET_TLS_RELOAD_MS",
  roles: "TENET_ROLES",
  decisionUrl: "TENET_DECISION_URL",
  decisionToken: "TENET_DECISION_TOKEN",
  proxyIssuer: "TENET_PROXY_ISSUER",
  proxyClientId: "TENET_PROXY_CLIENT_ID",
  proxyClientSecret: "TENET_PROXY_CLIENT_SECRET",
  proxySigningKeyFile: "TENET_PROXY_SIGNING_KEY_FILE",
};

const FLAG_NAMES: Partial<Record<keyof Config, string>> = {
  dataDir: "--data-dir",
  host: "--host",
  port: "--port",
  logLevel: "--log-level",
  accessConfig: "--access-config",
  roles: "--roles",
};

/** The default data directory: `$XDG_DATA_HOME/tenet`, else `~/.local/share/tenet`. */
export function defaultDataDir(env: NodeJS.ProcessEnv = process.env): string {
  const base = env.XDG_DATA_HOME && env.XDG_DATA_HOME !== "" ? env.XDG_DATA_HOME : join(homedir(), ".local", "share");
  return join(base, "tenet");
}

function parseIssuers(text: string | undefined): unknown {
  if (text === undefined || text.trim() === "") return [];
  try {
    return JSON.parse(text);
  } catch {
    return "not JSON";
  }
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env, overrides: Partial<Record<keyof Config, string | number>> = {}): Config {
  const raw = {
    defaultStoreId: overrides.defaultStoreId ?? (env.TENET_DEFAULT_STORE || undefined),
    adminToken: env.TENET_ADMIN_TOKEN || undefined,
    oidcIssuers: parseIssuers(env.TENET_OIDC_ISSUERS),
    syncIntervalMs: overrides.syncIntervalMs ?? (env.TENET_SYNC_INTERVAL_MS || 1000),
    requestTimeoutMs: env.TENET_REQUEST_TIMEOUT_MS || 30_000,
    bodyLimitBytes: env.TENET_BODY_LIMIT_BYTES || 1024 * 1024,
    dataDir: overrides.dataDir ?? (env.TENET_DATA_DIR || defaultDataDir(env)),
    databaseUrl: overrides.databaseUrl ?? (env.TENET_DATABASE_URL || undefined),
    // An empty variable means "unset", as for the URL and token.
    host: overrides.host ?? (env.TENET_HOST || "127.0.0.1"),
    port: overrides.port ?? (env.TENET_PORT || 8080),
    logLevel: overrides.logLevel ?? (env.TENET_LOG_LEVEL || "info"),
    accessConfig: overrides.accessConfig ?? (env.TENET_ACCESS_CONFIG || undefined),
    tlsCertFile: env.TENET_TLS_CERT_FILE || undefined,
    tlsKeyFile: env.TENET_TLS_KEY_FILE || undefined,
    tlsReloadMs: env.TENET_TLS_RELOAD_MS || 5000,
    roles: overrides.roles ?? (env.TENET_ROLES || "all"),
    decisionUrl: env.TENET_DECISION_URL || undefined,
    decisionToken: env.TENET_DECISION_TOKEN || undefined,
    proxyIssuer: env.TENET_PROXY_ISSUER || undefined,
    proxyClientId: env.TENET_PROXY_CLIENT_ID || "tenet-proxy",
    proxyClientSecret: env.TENET_PROXY_CLIENT_SECRET || undefined,
    proxySigningKeyFile: env.TENET_PROXY_SIGNING_KEY_FILE || undefined,
  };
  const parsed = configSchema
    // A certificate without its key (or the reverse) is a half-made change: refuse it rather than
    // silently serving plain HTTP.
    .superRefine((c, ctx) => {
      if (c.tlsCertFile !== undefined && c.tlsKeyFile === undefined) ctx.addIssue({ code: "custom", path: ["tlsKeyFile"], message: "must be set too when TENET_TLS_CERT_FILE is (both or neither)" });
      if (c.tlsKeyFile !== undefined && c.tlsCertFile === undefined) ctx.addIssue({ code: "custom", path: ["tlsCertFile"], message: "must be set too when TENET_TLS_KEY_FILE is (both or neither)" });
      // A proxy alone needs somewhere to ask and a client to sign people in with.
      if (c.roles === "proxy") {
        if (c.decisionUrl === undefined) ctx.addIssue({ code: "custom", path: ["decisionUrl"], message: "must be set with --roles proxy (the remote Tenet to ask)" });
        if (c.decisionToken === undefined) ctx.addIssue({ code: "custom", path: ["decisionToken"], message: "must be set with --roles proxy (an API key with the check scope)" });
        if (c.proxyClientSecret === undefined) ctx.addIssue({ code: "custom", path: ["proxyClientSecret"], message: "must be set with --roles proxy (the proxy's OAuth client secret)" });
      }
    })
    .safeParse(raw);
  if (!parsed.success) {
    const details = parsed.error.issues.map((i) => {
      const key = i.path[0] as keyof Config;
      // Name what the user set: the flag when one was given, else the variable. Never echo a
      // secret's value back (zod messages do not include it).
      const where = overrides[key] !== undefined ? (FLAG_NAMES[key] ?? ENV_NAMES[key]) : ENV_NAMES[key];
      return { where: where ?? String(key), message: i.message };
    });
    throw new TenetError("validation_error", `invalid configuration: ${details.map((d) => `${d.where}: ${d.message}`).join("; ")}`, { details });
  }
  return parsed.data;
}
