/**
 * `tenet serve --roles proxy`: the identity-aware proxy and ext_authz alone, next to the apps,
 * asking a remote Tenet (TENET_DECISION_URL) for decisions and sign-ins (src/app/proxy-only.ts).
 */
import { Server as TlsServer } from "node:tls";
import type { LoadedTls } from "../../api/tls.js";
import { assembleProxyOnly } from "../../app/proxy-only.js";
import type { AccessConfig } from "../../config/access-config.js";
import type { Config } from "../../config/config.js";
import { KeyError } from "../../crypto/errors.js";
import { TenetError } from "../../errors.js";
import type { Io } from "../main.js";
import { holdFreePort, stopSignal } from "./free-port.js";

export async function serveProxyOnly(o: { config: Config; access: AccessConfig; tls: LoadedTls | undefined; io: Io }): Promise<number> {
  const { config, io, tls } = o;
  const scheme = tls ? "https" : "http";
  const held = config.port === 0 ? await holdFreePort(config.host) : null;
  const port0 = held?.port ?? config.port;
  const hostPart = config.host.includes(":") ? `[${config.host}]` : config.host;
  // The assertions' issuer: the proxy itself, where its keys are published.
  const publicUrl = (process.env.TENET_PUBLIC_URL ?? `${scheme}://${hostPart}:${port0}`).replace(/\/+$/, "");
  const log = (msg: string, err?: unknown) => {
    if (config.logLevel === "silent" || config.logLevel === "fatal") return;
    io.err(`tenet serve: ${msg}${err ? `: ${(err as Error).message ?? String(err)}` : ""}\n`);
  };
  let parts;
  try {
    parts = await assembleProxyOnly({ config, access: o.access, publicUrl, tls: tls?.options, log });
  } catch (err) {
    await held?.release();
    if (err instanceof KeyError || err instanceof TenetError) {
      io.err(`tenet serve: cannot start: ${err.message}\n`);
      return 1;
    }
    throw err;
  }
  for (const w of [...parts.warnings, ...(tls?.warnings ?? [])]) io.err(`tenet serve: warning: ${w}\n`);
  const stopped = stopSignal();
  try {
    await held?.release();
    await new Promise<void>((resolve, reject) => {
      parts.server.once("error", reject);
      parts.server.listen(port0, config.host, () => {
        parts.server.off("error", reject);
        resolve();
      });
    });
  } catch (err) {
    io.err(`tenet serve: cannot listen on ${config.host}:${port0}: ${(err as Error).message}\n`);
    await parts.close();
    return 1;
  }
  const addr = parts.server.address();
  const port = typeof addr === "object" && addr ? addr.port : port0;
  const stopTlsWatch = tls && parts.server instanceof TlsServer ? tls.watch(parts.server, (e) => log(e.message), config.tlsReloadMs) : () => undefined;
  io.out(`tenet listening on ${scheme}://${hostPart}:${port} (roles: proxy; ${o.access.proxy.routes.length} route(s); decision point ${config.decisionUrl}; identity provider ${parts.issuer}${tls ? `; TLS ${tls.describe}` : ""})\n`);
  await stopped;
  stopTlsWatch();
  await parts.close();
  return 0;
}
