/**
 * The identity-aware proxy: every request to a routed host is normalised (or refused), matched to
 * its route, tied to a person (the sealed session cookie → the identity provider's live session),
 * decided by the decision point, and only then forwarded — with a signed identity assertion the
 * upstream can verify, and never with identity headers the client sent.
 *
 * Not signed in → the identity provider (authorization code + PKCE) and back to the same URL.
 * Challenge → the identity provider with the required `acr_values`/`max_age`. Pending → a page
 * with the just-in-time request. Device remediation → a page that says what to fix. Deny → 403
 * (a page, or JSON for API clients). Decision point unavailable → 503, never a forward.
 */
import { type IncomingMessage, request as httpRequest, type ServerResponse } from "node:http";
import { request as httpsRequest } from "node:https";
import type { Duplex } from "node:stream";
import { Agent } from "undici";
import { type AssertionIssuer, assertionForRoute } from "../assertion.js";
import type { EnforcementIdentity, EnforcementOutcome, Enforcer } from "../enforcer.js";
import { normalizeRequest } from "../normalize.js";
import type { RouteTable } from "../routes.js";
import type { ProxySession, SessionCookies } from "../session-cookie.js";
import { PENDING_RECHECK_SECONDS, PROXY_PAGE_CSP, PROXY_STYLESHEET, PROXY_STYLESHEET_PATH, pendingPage, proxyPage } from "./pages.js";
import { forward } from "./forward.js";
import { CALLBACK_PATH, type ProxySignIn } from "./signin.js";

export const ASSERTION_HEADER = "x-tenet-assertion";
/** Where every routed host publishes the keys its identity assertions are signed with. */
export const JWKS_PATH = "/.well-known/tenet/jwks.json";

export interface ProxyOptions {
  /** The route table (a RouteTable, or LiveRoutes when routes change while running). */
  routes: Pick<RouteTable, "match">;
  enforcer: Enforcer;
  /** The person behind an access token of the identity provider, while its session lives. */
  identityOf: (accessToken: string, session?: ProxySession) => Promise<EnforcementIdentity | undefined>;
  assertions: AssertionIssuer;
  cookies: SessionCookies;
  signIn: ProxySignIn;
  /** The scheme clients use to reach the proxy. */
  scheme: "http" | "https";
  /** Told of every decision (the decision point already records it in the audit log). */
  onOutcome?: ((o: EnforcementOutcome, routeId: string) => void) | undefined;
  onError?: ((msg: string, err?: unknown) => void) | undefined;
  /** The public keys that verify the assertions (served at JWKS_PATH on every routed host). */
  jwks?: (() => Promise<unknown>) | undefined;
}

export class IdentityAwareProxy {
  // Kept-alive connections to the upstreams, shared by all routes.
  private readonly dispatcher = new Agent({ keepAliveTimeout: 10_000 });

  constructor(private readonly o: ProxyOptions) {}

  /** Closes the connections to the upstreams (at shutdown). */
  async close(): Promise<void> {
    await this.dispatcher.close();
  }

  /** Whether a request's Host belongs to a proxied route (cheap: before normalisation). */
  claims(req: IncomingMessage): boolean {
    const host = String(req.headers.host ?? "").toLowerCase().replace(/\.$/, "");
    return host !== "" && this.o.routes.match(host, "/") !== undefined;
  }

  async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const n = normalizeRequest({ method: req.method ?? "", url: req.url ?? "", headers: req.headers, rawHeaders: req.rawHeaders, httpVersion: req.httpVersion }, { scheme: this.o.scheme });
    if (!n.ok) return this.reply(req, res, n.rejection.status, "Bad request", `${n.rejection.code}: ${n.rejection.message}`, { connection: "close" });
    const r = n.request;
    if (r.targetForm !== "origin") return this.reply(req, res, 400, "Bad request", "only origin-form requests are proxied");
    const route = this.o.routes.match(r.host, r.path);
    if (!route) return this.reply(req, res, 404, "Not found", "no application is served at this address");
    const ip = req.socket.remoteAddress ?? "";
    const returnTo = r.query ? `${r.path}?${r.query}` : r.path;

    if (r.path === CALLBACK_PATH) return this.callback(req, res, r.host);
    if (r.path === JWKS_PATH && this.o.jwks && (r.method === "GET" || r.method === "HEAD")) {
      const body = JSON.stringify(await this.o.jwks());
      res.writeHead(200, { "content-type": "application/jwk-set+json", "content-length": Buffer.byteLength(body), "cache-control": "public, max-age=300", "x-content-type-options": "nosniff" });
      res.end(r.method === "HEAD" ? undefined : body);
      return;
    }
    if (r.path === PROXY_STYLESHEET_PATH && (r.method === "GET" || r.method === "HEAD")) {
      res.writeHead(200, { "content-type": "text/css; charset=utf-8", "content-length": Buffer.byteLength(PROXY_STYLESHEET), "cache-control": "public, max-age=3600", "x-content-type-options": "nosniff" });
      res.end(r.method === "HEAD" ? undefined : PROXY_STYLESHEET);
      return;
    }

    const session = this.o.cookies.read(req.headers.cookie, r.host);
    // The identity provider cannot say whether the session lives: fail closed, and say so
    // (sending the user to sign in would not help).
    const identity = await this.identityOf(session, route.id);
    if (identity === "failed") return this.reply(req, res, 503, "Unavailable", "Sign-ins cannot be checked right now; try again shortly.", { "retry-after": "5" });
    const outcome = await this.o.enforcer.enforce({ route, identity, request: { method: r.method, host: r.host, path: r.path, ip, userAgent: r.headers["user-agent"] as string | undefined } });
    this.o.onOutcome?.(outcome, route.id);
    switch (outcome.kind) {
      case "signin":
      case "challenge": {
        if (!wantsHtml(req)) return this.reply(req, res, 401, "Sign-in required", outcome.kind === "challenge" ? "a stronger sign-in is required" : "sign in first", outcome.kind === "challenge" ? { "www-authenticate": `Bearer error="insufficient_user_authentication"${outcome.acr ? `, acr_values="${outcome.acr}"` : ""}${outcome.maxAge !== undefined ? `, max_age=${outcome.maxAge}` : ""}` } : {});
        const s = await this.o.signIn.begin({ scheme: this.o.scheme, host: r.host, returnTo, ...(outcome.kind === "challenge" ? { acr: outcome.acr, maxAge: outcome.maxAge } : {}) });
        res.writeHead(302, { location: s.url, "set-cookie": [s.cookie, ...(session && !identity ? [this.o.cookies.clear()] : [])], "cache-control": "no-store" });
        res.end();
        return;
      }
      case "pending": {
        // The page asks again by itself (Refresh): once approved, the next decision allows.
        const headers = { refresh: String(PENDING_RECHECK_SECONDS) };
        const extra = { decision_id: outcome.decisionId, request_id: outcome.requestId, status: "pending", approvers: outcome.approvers };
        if (wantsHtml(req)) return this.send(res, 403, "text/html; charset=utf-8", pendingPage(outcome.requestId, outcome.approvers), headers);
        return this.reply(req, res, 403, "Waiting for approval", `Access needs an approval: request ${outcome.requestId} is waiting for ${outcome.approvers.join(", ") || "an approver"}.`, headers, extra);
      }
      case "remediate":
        return this.reply(req, res, 403, "Your device needs attention", `This application needs a device that is ${outcome.needs.join(" and ")}. ${outcome.reasons.join(" ")}`, {}, { decision_id: outcome.decisionId, device: outcome.needs });
      case "deny":
        return this.reply(req, res, 403, "Access denied", "You do not have access to this application.", {}, { decision_id: outcome.decisionId });
      case "unavailable":
        this.o.onError?.(`proxy: decision unavailable on route ${route.id}: ${outcome.reason}`);
        return this.reply(req, res, 503, "Unavailable", "Access cannot be checked right now; try again shortly.", { "retry-after": "5" });
      case "allow":
        return this.forward(req, res, route, r, identity, outcome.decisionId, ip);
    }
  }

  /**
   * A WebSocket upgrade (RFC 6455 §4): decided like any request (the route must allow
   * websockets), then the handshake is passed to the upstream with the identity assertion and,
   * once it answers 101, bytes flow both ways untouched. Anything else closes the socket with
   * a plain HTTP status.
   */
  async handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): Promise<void> {
    const refuse = (status: number, text: string) => {
      if (socket.writable) socket.end(`HTTP/1.1 ${status} ${text}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
      else socket.destroy();
    };
    const n = normalizeRequest({ method: req.method ?? "", url: req.url ?? "", headers: req.headers, rawHeaders: req.rawHeaders, httpVersion: req.httpVersion }, { scheme: this.o.scheme });
    if (!n.ok || n.request.upgrade !== "websocket" || n.request.targetForm !== "origin") return refuse(400, "Bad Request");
    const r = n.request;
    const route = this.o.routes.match(r.host, r.path);
    if (!route) return refuse(404, "Not Found");
    if (!route.websockets) return refuse(403, "Forbidden");
    const session = this.o.cookies.read(req.headers.cookie, r.host);
    const identity = await this.identityOf(session, route.id);
    if (identity === "failed") return refuse(503, "Service Unavailable");
    const ip = req.socket.remoteAddress ?? "";
    const outcome = await this.o.enforcer.enforce({ route, identity, request: { method: r.method, host: r.host, path: r.path, ip, userAgent: r.headers["user-agent"] as string | undefined } });
    this.o.onOutcome?.(outcome, route.id);
    if (outcome.kind === "signin" || outcome.kind === "challenge") return refuse(401, "Unauthorized");
    if (outcome.kind === "unavailable") return refuse(503, "Service Unavailable");
    if (outcome.kind !== "allow") return refuse(403, "Forbidden");
    const headers = await this.upstreamHeaders(req, route, r, identity, outcome.decisionId, ip);
    headers.connection = "Upgrade";
    headers.upgrade = "websocket";
    const target = new URL(route.upstream);
    const basePath = target.pathname.replace(/\/+$/, "");
    const send = target.protocol === "https:" ? httpsRequest : httpRequest;
    const up = send({ host: target.hostname, port: target.port || (target.protocol === "https:" ? 443 : 80), method: "GET", path: `${basePath}${r.path}${r.query ? `?${r.query}` : ""}`, headers, timeout: route.timeoutMs });
    up.on("upgrade", (res, upSocket, upHead) => {
      const lines = [`HTTP/1.1 101 Switching Protocols`];
      for (let i = 0; i < res.rawHeaders.length; i += 2) lines.push(`${res.rawHeaders[i]}: ${res.rawHeaders[i + 1]}`);
      socket.write(`${lines.join("\r\n")}\r\n\r\n`);
      if (upHead.length > 0) socket.write(upHead);
      if (head.length > 0) upSocket.write(head);
      upSocket.pipe(socket).pipe(upSocket);
      const close = () => {
        upSocket.destroy();
        socket.destroy();
      };
      upSocket.on("error", close);
      socket.on("error", close);
      upSocket.on("close", close);
      socket.on("close", close);
    });
    up.on("response", (res) => {
      // The upstream refused the upgrade: pass its status on, without a body.
      refuse(res.statusCode ?? 502, res.statusMessage ?? "Bad Gateway");
      res.resume();
    });
    up.on("timeout", () => up.destroy(new Error("upstream timeout")));
    up.on("error", (err) => {
      this.o.onError?.(`proxy: websocket upstream of route ${route.id} failed`, err);
      refuse(502, "Bad Gateway");
    });
    up.end();
  }

  /** Who the session cookie speaks for; "failed" when that cannot be known (not the same as nobody). */
  private async identityOf(session: ProxySession | undefined, routeId: string): Promise<EnforcementIdentity | undefined | "failed"> {
    if (!session) return undefined;
    try {
      return await this.o.identityOf(session.accessToken, session);
    } catch (err) {
      this.o.onError?.(`proxy: identity lookup failed on route ${routeId}`, err);
      return "failed";
    }
  }

  private async callback(req: IncomingMessage, res: ServerResponse, host: string): Promise<void> {
    try {
      const t = await this.o.signIn.complete({ scheme: this.o.scheme, host, url: req.url ?? "/", cookieHeader: req.headers.cookie });
      const fresh: ProxySession = { accessToken: t.accessToken, userId: t.userId, sessionId: t.claims.sid, expiresAt: Math.floor(Date.now() / 1000) + t.expiresIn, host, claims: t.claims };
      const who = await this.o.identityOf(t.accessToken, fresh);
      const cookie = this.o.cookies.issue({ ...fresh, sessionId: who?.sessionId ?? fresh.sessionId });
      // Back only to a path on this host (never an absolute URL from the state).
      const to = t.returnTo.startsWith("/") && !t.returnTo.startsWith("//") ? t.returnTo : "/";
      res.writeHead(303, { location: to, "set-cookie": [cookie, this.o.signIn.clearCookie(this.o.scheme)], "cache-control": "no-store" });
      res.end();
    } catch (err) {
      this.o.onError?.("proxy: sign-in callback failed", err);
      this.reply(req, res, 400, "Sign-in failed", "The sign-in could not be completed. Go back and try again.");
    }
  }

  private async forward(req: IncomingMessage, res: ServerResponse, route: import("../routes.js").ProxyRoute, r: import("../normalize.js").NormalizedRequest, identity: EnforcementIdentity | undefined, decisionId: string | undefined, ip: string): Promise<void> {
    const headers = await this.upstreamHeaders(req, route, r, identity, decisionId, ip);
    const target = route.upstream;
    const basePath = target.pathname.replace(/\/+$/, "");
    try {
      await forward({ dispatcher: this.dispatcher, origin: target.origin, path: `${basePath}${r.path}${r.query ? `?${r.query}` : ""}`, method: r.method, headers, body: r.framing.kind !== "none" ? req : null, timeoutMs: route.timeoutMs }, res);
    } catch (err) {
      this.o.onError?.(`proxy: upstream of route ${route.id} failed`, err);
      if (!res.headersSent) this.reply(req, res, 502, "Bad gateway", "The application did not answer.");
      else res.destroy();
    }
  }

  /** What the upstream is sent: the normalised headers, Tenet's cookie removed, forwarding facts and the assertion. */
  private async upstreamHeaders(req: IncomingMessage, route: import("../routes.js").ProxyRoute, r: import("../normalize.js").NormalizedRequest, identity: EnforcementIdentity | undefined, decisionId: string | undefined, ip: string): Promise<Record<string, string | string[]>> {
    const headers: Record<string, string | string[]> = { ...r.headers };
    delete headers.cookie; // Tenet's session cookie stays with Tenet; the app's own cookies pass.
    if (req.headers.cookie) {
      const kept = req.headers.cookie.split(";").map((c) => c.trim()).filter((c) => c && !c.startsWith(`${this.o.cookies.name}=`));
      if (kept.length > 0) headers.cookie = kept.join("; ");
    }
    if (!route.preserveHost) headers.host = route.upstream.host;
    headers["x-forwarded-for"] = ip;
    headers["x-forwarded-proto"] = this.o.scheme;
    headers["x-forwarded-host"] = r.host;
    if (identity) {
      headers[ASSERTION_HEADER] = await assertionForRoute(this.o.assertions, this.o.scheme, route, identity, decisionId);
    }
    return headers;
  }

  private reply(req: IncomingMessage, res: ServerResponse, status: number, title: string, message: string, headers: Record<string, string> = {}, extra: Record<string, unknown> = {}): void {
    const json = !wantsHtml(req);
    const body = json ? JSON.stringify({ code: codeOf(status), message, ...extra }) : proxyPage(title, message);
    this.send(res, status, json ? "application/json" : "text/html; charset=utf-8", body, headers);
  }

  private send(res: ServerResponse, status: number, contentType: string, body: string, headers: Record<string, string> = {}): void {
    if (res.headersSent) return;
    res.writeHead(status, {
      "content-type": contentType,
      "content-length": Buffer.byteLength(body),
      "cache-control": "no-store",
      "content-security-policy": PROXY_PAGE_CSP,
      "x-content-type-options": "nosniff",
      ...headers,
    });
    res.end(body);
  }

}

function wantsHtml(req: IncomingMessage): boolean {
  return /\btext\/html\b/.test(String(req.headers.accept ?? ""));
}

function codeOf(status: number): string {
  return status === 401 ? "unauthenticated" : status === 403 ? "forbidden" : status === 404 ? "not_found" : status === 503 ? "unavailable" : status === 502 ? "bad_gateway" : "bad_request";
}
