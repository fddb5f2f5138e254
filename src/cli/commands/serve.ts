/**
 * `tenet serve`: runs Tenet. Configuration is read and validated once; storage is SQLite in the
 * data directory unless TENET_DATABASE_URL names PostgreSQL; access decisions take their risk,
 * zone and just-in-time settings from the access configuration file (TENET_ACCESS_CONFIG or
 * --access-config; defaults without one). Failures at start (bad config, a database that cannot
 * be reached or opened) print one clear line and exit non-zero.
 */
import { KeyError } from "../../crypto/errors.js";
import { TenetError } from "../../errors.js";
import { bootstrapAdminKey } from "../../api/auth/bootstrap.js";
import { JwtVerifier } from "../../api/auth/jwt.js";
import { assemble } from "../../app/assemble.js";
import { type AccessConfig, defaultAccessConfig, loadAccessConfig } from "../../config/access-config.js";
import { loadConfig } from "../../config/config.js";
import { isTenetError } from "../../errors.js";
import { isStorageError } from "../../storage/errors.js";
import { openDatastore } from "../../storage/open.js";
import type { Io } from "../main.js";
import { flagValue } from "./flags.js";

export async function serveCommand(args: string[], io: Io): Promise<number> {
  const overrides: Record<string, string> = {};
  for (const [flag, key] of [["--port", "port"], ["--host", "host"], ["--data-dir", "dataDir"], ["--log-level", "logLevel"], ["--access-config", "accessConfig"]] as const) {
    const v = flagValue(args, flag);
    if (v !== undefined) overrides[key] = v;
  }
  const config = loadConfig(process.env, overrides);
  // Read before the database is opened, so a bad file leaves nothing behind.
  let access: AccessConfig;
  try {
    access = config.accessConfig !== undefined ? loadAccessConfig(config.accessConfig, process.env) : defaultAccessConfig();
  } catch (err) {
    if (isTenetError(err) && err.code === "validation_error") {
      io.err(`tenet serve: ${err.message}\n`);
      return 1;
    }
    throw err;
  }
  let ds;
  try {
    ds = await openDatastore(config.databaseUrl ? { dataDir: config.dataDir, databaseUrl: config.databaseUrl } : { dataDir: config.dataDir });
  } catch (err) {
    if (isStorageError(err)) {
      io.err(`tenet serve: cannot open the database (${err.code}): ${err.message}\n`);
      return 1;
    }
    throw err;
  }
  let baseUrl = "";
  // The identity provider's URLs (issuer, passkeys' origin) must be known before it is built; a
  // free port is found first when the configuration says 0.
  const port0 = config.port === 0 ? await freePort(config.host) : config.port;
  const publicUrl = (process.env.TENET_PUBLIC_URL ?? access.identity.publicUrl ?? `http://localhost:${port0}`).replace(/\/+$/, "");
  let parts;
  try {
    parts = await assemble({
    ds,
    access,
    dataDir: config.dataDir,
    jwt: config.oidcIssuers.length ? new JwtVerifier(config.oidcIssuers) : null,
    logLevel: config.logLevel,
    bodyLimit: config.bodyLimitBytes,
    requestTimeoutMs: config.requestTimeoutMs,
    syncIntervalMs: config.syncIntervalMs,
    authzen: { defaultStoreId: config.defaultStoreId, baseUrl: () => baseUrl },
    publicUrl,
  });
  } catch (err) {
    // A master key that does not open the stored keys, an unreadable key file, a damaged log.
    if (err instanceof KeyError || err instanceof TenetError) {
      io.err(`tenet serve: cannot start: ${err.message}\n`);
      await ds.close();
      return 1;
    }
    throw err;
  }
  // Missing or damaged risk data makes the engine more cautious, not the server unusable: warn.
  for (const w of parts.warnings) io.err(`tenet serve: warning: ${w}\n`);
  const { app } = parts;
  // Signals are handled from before the server listens, so a stop that arrives at any moment
  // drains requests and closes storage instead of killing the process mid-write.
  let stopRequested: () => void = () => undefined;
  const stopped = new Promise<void>((resolve) => (stopRequested = resolve));
  process.once("SIGINT", () => stopRequested());
  process.once("SIGTERM", () => stopRequested());
  try {
    await app.listen({ host: config.host, port: port0 });
  } catch (err) {
    io.err(`tenet serve: cannot listen on ${config.host}:${port0}: ${(err as Error).message}\n`);
    await parts.close();
    await ds.close();
    return 1;
  }
  // The admin key is created once the port is ours, so a failed start leaves no key behind.
  const boot = await bootstrapAdminKey(ds, { dataDir: config.dataDir, adminToken: config.adminToken });
  if (boot.generatedToken) {
    io.err(`\nNo API key existed, so an admin key was created. It is shown once; it is also in ${boot.tokenFile} (mode 0600):\n\n  ${boot.generatedToken}\n\n`);
  }
  const addr = app.server.address();
  const port = typeof addr === "object" && addr ? addr.port : config.port;
  baseUrl = `http://${config.host.includes(":") ? `[${config.host}]` : config.host}:${port}`;
  io.out(`tenet listening on ${baseUrl} (storage: ${ds.kind}${ds.kind === "sqlite" ? ` in ${config.dataDir}` : ""}; identity provider ${publicUrl}/oidc)\n`);
  await stopped;
  // Drain: stop accepting, let in-flight requests finish, stop background work, release storage.
  await parts.close();
  await ds.close();
  return 0;
}

/** A port free right now on `host` (for `--port 0`: the identity provider needs its URL first). */
async function freePort(host: string): Promise<number> {
  const { createServer } = await import("node:net");
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once("error", reject);
    srv.listen(0, host, () => {
      const a = srv.address();
      const p = typeof a === "object" && a ? a.port : 0;
      srv.close(() => resolve(p));
    });
  });
}
