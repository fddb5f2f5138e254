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
import { type LoadedTls, loadTls } from "../../api/tls.js";
import { assemble } from "../../app/assemble.js";
import { type AccessConfig, defaultAccessConfig, loadAccessConfig } from "../../config/access-config.js";
import { loadConfig } from "../../config/config.js";
import { isTenetError } from "../../errors.js";
import { isStorageError } from "../../storage/errors.js";
import { openDatastore } from "../../storage/open.js";
import { Server as TlsServer } from "node:tls";
import type { Io } from "../main.js";
import { flagValue } from "./flags.js";
import { holdFreePort, stopSignal } from "./free-port.js";
import { serveProxyOnly } from "./serve-proxy.js";

export async function serveCommand(args: string[], io: Io): Promise<number> {
  const overrides: Record<string, string> = {};
  for (const [flag, key] of [["--port", "port"], ["--host", "host"], ["--data-dir", "dataDir"], ["--log-level", "logLevel"], ["--access-config", "accessConfig"], ["--roles", "roles"]] as const) {
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
  // The certificate too: a server that cannot speak TLS must not start speaking plain HTTP.
  let tls: LoadedTls | undefined;
  if (config.tlsCertFile !== undefined && config.tlsKeyFile !== undefined) {
    try {
      tls = loadTls({ certFile: config.tlsCertFile, keyFile: config.tlsKeyFile });
    } catch (err) {
      if (isTenetError(err)) {
        io.err(`tenet serve: cannot start: ${err.message}\n`);
        return 1;
      }
      throw err;
    }
  }
  const scheme = tls ? "https" : "http";
  // The proxy alone: no storage, everything else asked of a remote Tenet.
  if (config.roles === "proxy") return serveProxyOnly({ config, access, tls, io });
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
  // free port is found first when the configuration says 0, and held until the server listens on
  // it, so another process asking for a free port meanwhile cannot be given the same one.
  const held = config.port === 0 ? await holdFreePort(config.host) : null;
  const port0 = held?.port ?? config.port;
  const publicUrl = (process.env.TENET_PUBLIC_URL ?? access.identity.publicUrl ?? `${scheme}://localhost:${port0}`).replace(/\/+$/, "");
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
    tls: tls?.options,
  });
  } catch (err) {
    // A master key that does not open the stored keys, an unreadable key file, a damaged log.
    await held?.release();
    if (err instanceof KeyError || err instanceof TenetError) {
      io.err(`tenet serve: cannot start: ${err.message}\n`);
      await ds.close();
      return 1;
    }
    throw err;
  }
  // Missing or damaged risk data makes the engine more cautious, not the server unusable: warn.
  for (const w of [...parts.warnings, ...(tls?.warnings ?? [])]) io.err(`tenet serve: warning: ${w}\n`);
  const { app } = parts;
  const stopped = stopSignal();
  try {
    await held?.release();
    // Fastify's own "listening" log line only knows the scheme of servers it creates itself.
    await app.listen({ host: config.host, port: port0, ...(tls ? { listenTextResolver: (a: string) => `Server listening at ${a.replace(/^http:/, "https:")}` } : {}) });
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
  // A renewed certificate is served without a restart; one that cannot be used is reported and
  // the previous one kept.
  const stopTlsWatch =
    tls && app.server instanceof TlsServer
      ? tls.watch(app.server, (e) => (e.kind === "reloaded" ? app.log.info(e.message) : app.log.error(e.message)), config.tlsReloadMs)
      : () => undefined;
  baseUrl = `${scheme}://${config.host.includes(":") ? `[${config.host}]` : config.host}:${port}`;
  io.out(`tenet listening on ${baseUrl} (storage: ${ds.kind}${ds.kind === "sqlite" ? ` in ${config.dataDir}` : ""}; identity provider ${publicUrl}/oidc${tls ? `; TLS ${tls.describe}` : ""})\n`);
  await stopped;
  stopTlsWatch();
  // Drain: stop accepting, let in-flight requests finish, stop background work, release storage.
  await parts.close();
  await ds.close();
  return 0;
}
