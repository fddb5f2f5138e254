/**
 * The identity-aware proxy (and ext_authz) running alone — `tenet serve --roles proxy` — next to
 * the applications it protects, asking a remote Tenet for everything else:
 * - decisions: the remote decision point over HTTP (RemoteDecisionPoint), which also records
 *   them in its audit log; unreachable or slow → 503, never a forward;
 * - sign-in: the remote OpenID provider (or any other), as a confidential client;
 * - liveness of a sign-in: token introspection at that provider, cached 2 s;
 * - identity assertions: signed with the proxy's own ES256 key, published on every routed host.
 *
 * No database: the session cookies are sealed with the master key (TENET_MASTER_KEY, else the
 * data directory's key file), which replicas behind one load balancer must share.
 */
import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { createServer as createHttpsServer, type ServerOptions as HttpsOptions } from "node:https";
import { join } from "node:path";
import type { Duplex } from "node:stream";
import type { Config } from "../config/config.js";
import type { AccessConfig } from "../config/access-config.js";
import { loadMasterKey } from "../crypto/master-key.js";
import { AssertionIssuer } from "../enforcement/assertion.js";
import { Enforcer } from "../enforcement/enforcer.js";
import { ExtAuthz } from "../enforcement/ext-authz.js";
import { IdentityCache } from "../enforcement/identity-cache.js";
import { IdentityAwareProxy, JWKS_PATH } from "../enforcement/proxy/proxy.js";
import { ProxySignIn } from "../enforcement/proxy/signin.js";
import { loadAssertionKey } from "../enforcement/remote/assertion-key.js";
import { RemoteDecisionPoint } from "../enforcement/remote/decision-client.js";
import { introspectedIdentity } from "../enforcement/remote/introspected-identity.js";
import { RouteTable } from "../enforcement/routes.js";
import { SessionCookies } from "../enforcement/session-cookie.js";
import { TrustedPeers } from "../enforcement/trusted-peers.js";
import type { ProxySession } from "../enforcement/session-cookie.js";

export interface ProxyOnly {
  server: Server;
  warnings: string[];
  issuer: string;
  close: () => Promise<void>;
}

export async function assembleProxyOnly(o: { config: Config; access: AccessConfig; publicUrl: string; tls?: HttpsOptions | undefined; log: (msg: string, err?: unknown) => void }): Promise<ProxyOnly> {
  const c = o.config;
  // loadConfig refuses --roles proxy without these; the checks keep the types honest.
  if (!c.decisionUrl || !c.decisionToken || !c.proxyClientSecret) throw new TypeError("--roles proxy needs TENET_DECISION_URL, TENET_DECISION_TOKEN and TENET_PROXY_CLIENT_SECRET");
  const scheme = o.publicUrl.startsWith("https:") ? "https" : "http";
  const master = await loadMasterKey({ dataDir: c.dataDir });
  const key = await loadAssertionKey(c.proxySigningKeyFile ?? join(c.dataDir, "proxy-signing-key.pem"), { create: c.proxySigningKeyFile === undefined });
  const issuer = (c.proxyIssuer ?? `${c.decisionUrl.replace(/\/+$/, "")}/oidc`).replace(/\/+$/, "");
  const signIn = new ProxySignIn({ issuer, clientId: c.proxyClientId, clientSecret: c.proxyClientSecret, master: master.key, allowInsecure: issuer.startsWith("http:") });
  const identities = new IdentityCache<ProxySession>({ lookup: (token, session) => introspectedIdentity(signIn, token, session) });
  const pdp = new RemoteDecisionPoint({ url: c.decisionUrl, token: c.decisionToken });
  const shared = {
    routes: new RouteTable(o.access.proxy.routes),
    identityOf: (token: string, session?: ProxySession) => identities.identityOf(token, session),
    assertions: new AssertionIssuer({ issuer: o.publicUrl, sign: key.sign }),
    cookies: new SessionCookies(master.key, { secure: scheme === "https" }),
    signIn,
    scheme,
  } as const;
  const enforcer = new Enforcer({ decide: (storeId, req) => pdp.decide(storeId, req), defaultStoreId: c.defaultStoreId });
  const proxy = new IdentityAwareProxy({ ...shared, enforcer, onError: o.log, jwks: async () => key.jwks });
  const extAuthz = new ExtAuthz({ ...shared, enforcer, trustedPeers: new TrustedPeers(o.access.proxy.extAuthzTrustedPeers) });

  const handle = (req: IncomingMessage, res: ServerResponse) => {
    const fail = (what: string) => (err: unknown) => {
      o.log(`${what}: request failed`, err);
      if (!res.headersSent) res.writeHead(what === "ext_authz" ? 503 : 502).end();
      else res.destroy();
    };
    if (extAuthz.claims(req)) return void extAuthz.handle(req, res).catch(fail("ext_authz"));
    if (proxy.claims(req)) return void proxy.handle(req, res).catch(fail("proxy"));
    // The proxy's own address: a health check for load balancers and the keys; nothing else.
    const path = (req.url ?? "").split("?")[0];
    if (path === "/healthz" && (req.method === "GET" || req.method === "HEAD")) return json(res, 200, { status: "ok", roles: ["proxy"] });
    if (path === JWKS_PATH && (req.method === "GET" || req.method === "HEAD")) return json(res, 200, key.jwks, "public, max-age=300");
    json(res, 404, { code: "not_found", message: "no application is served at this address" });
  };
  const server: Server = o.tls ? createHttpsServer(o.tls, handle) : createHttpServer(handle);
  server.on("upgrade", (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    if (!proxy.claims(req)) return void socket.end("HTTP/1.1 404 Not Found\r\nConnection: close\r\nContent-Length: 0\r\n\r\n");
    proxy.handleUpgrade(req, socket, head).catch((err: unknown) => {
      o.log("proxy: websocket upgrade failed", err);
      socket.destroy();
    });
  });
  // Malformed HTTP and oversized headers: a plain status, never a crash.
  server.on("clientError", (err: NodeJS.ErrnoException, socket: Duplex) => {
    const status = err.code === "HPE_HEADER_OVERFLOW" ? "431 Request Header Fields Too Large" : "400 Bad Request";
    if (socket.writable) socket.end(`HTTP/1.1 ${status}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
    else socket.destroy();
  });
  server.keepAliveTimeout = 72_000;
  server.requestTimeout = c.requestTimeoutMs;
  server.headersTimeout = Math.min(60_000, c.requestTimeoutMs);
  return {
    server,
    warnings: master.warnings,
    issuer,
    close: async () => {
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeIdleConnections();
      });
      await proxy.close();
      await pdp.close();
    },
  };
}

function json(res: ServerResponse, status: number, body: unknown, cacheControl = "no-store"): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(text), "cache-control": cacheControl });
  res.end(text);
}
