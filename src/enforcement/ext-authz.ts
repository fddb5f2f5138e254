/**
 * Envoy's external authorization, HTTP service protocol (Istio `CUSTOM` action): Envoy sends each
 * incoming request's method, path (after the configured `path_prefix`) and headers — Host being
 * the original authority — and forwards the request only on a 200. Tenet answers from the same
 * normalisation, routes and decision point as its own proxy:
 *
 *   200 + `x-tenet-assertion` (list it in `allowed_upstream_headers`) and `x-tenet-user`, `x-tenet-decision-id`
 *   302 to sign in (browsers; list `location`, `set-cookie` in `allowed_client_headers`) or 401 (API clients)
 *   403 deny / pending / device remediation, with a JSON body saying which
 *   503 when the decision point cannot answer — Envoy must be configured with
 *       `failure_mode_allow: false` so that this, and an unreachable Tenet, deny.
 *
 * Identity: a bearer access token of Tenet's identity provider, or the proxy's session cookie.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import { type AssertionIssuer, assertionForRoute } from "./assertion.js";
import type { EnforcementIdentity, Enforcer } from "./enforcer.js";
import { normalizeRequest } from "./normalize.js";
import type { RouteTable } from "./routes.js";
import type { ProxySession, SessionCookies } from "./session-cookie.js";
import type { TrustedPeers } from "./trusted-peers.js";
import type { ProxySignIn } from "./proxy/signin.js";

/** Under the reserved `/.tenet/` path, so no proxied application can shadow it (or be shadowed). */
export const EXT_AUTHZ_PREFIX = "/.tenet/ext_authz";

export interface ExtAuthzOptions {
  /** The route table (a RouteTable, or LiveRoutes when routes change while running). */
  routes: Pick<RouteTable, "match">;
  enforcer: Enforcer;
  identityOf: (accessToken: string, session?: ProxySession) => Promise<EnforcementIdentity | undefined>;
  /** Callers whose X-Forwarded-* headers speak for the client (Envoy). */
  trustedPeers: TrustedPeers;
  assertions: AssertionIssuer;
  cookies: SessionCookies;
  signIn: ProxySignIn;
  /** The scheme clients use to reach the applications Envoy fronts. */
  scheme: "http" | "https";
}

export class ExtAuthz {
  constructor(private readonly o: ExtAuthzOptions) {}

  claims(req: IncomingMessage): boolean {
    const url = req.url ?? "";
    return url === EXT_AUTHZ_PREFIX || url.startsWith(`${EXT_AUTHZ_PREFIX}/`) || url.startsWith(`${EXT_AUTHZ_PREFIX}?`);
  }

  async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const original = (req.url ?? "").slice(EXT_AUTHZ_PREFIX.length) || "/";
    // Envoy's X-Forwarded-* are believed only from Envoy's own addresses (trusted peers).
    const trusted = this.o.trustedPeers.trusts(req.socket.remoteAddress);
    const n = normalizeRequest({ method: req.method ?? "", url: original, headers: req.headers, rawHeaders: req.rawHeaders, httpVersion: req.httpVersion }, { scheme: this.o.scheme, trustForwarded: trusted });
    if (!n.ok) return send(res, n.rejection.status, { code: n.rejection.code, message: n.rejection.message });
    const r = n.request;
    const route = this.o.routes.match(r.host, r.path);
    if (!route) return send(res, 403, { code: "no_route", message: `no route for ${r.host}${r.path}` });
    const bearer = /^Bearer\s+(\S+)$/i.exec(String(req.headers.authorization ?? ""))?.[1];
    const session = bearer ? undefined : this.o.cookies.read(req.headers.cookie, r.host);
    const token = bearer ?? session?.accessToken;
    let identity: EnforcementIdentity | undefined;
    try {
      identity = token ? await this.o.identityOf(token, session) : undefined;
    } catch {
      // Whether the session lives cannot be known: fail closed (Envoy denies on anything but 200).
      return send(res, 503, { code: "unavailable", message: "sign-ins cannot be checked right now" });
    }
    const ip = (trusted ? String(req.headers["x-forwarded-for"] ?? "").split(",")[0]!.trim() : "") || req.socket.remoteAddress || "";
    const outcome = await this.o.enforcer.enforce({ route, identity, request: { method: r.method, host: r.host, path: r.path, ip, userAgent: r.headers["user-agent"] as string | undefined } });
    switch (outcome.kind) {
      case "allow": {
        const headers: Record<string, string> = {};
        if (identity) {
          headers["x-tenet-user"] = identity.userId;
          headers["x-tenet-assertion"] = await assertionForRoute(this.o.assertions, this.o.scheme, route, identity, outcome.decisionId);
        }
        if (outcome.decisionId) headers["x-tenet-decision-id"] = outcome.decisionId;
        return send(res, 200, undefined, headers);
      }
      case "signin":
      case "challenge": {
        const browser = !bearer && /\btext\/html\b/.test(String(req.headers.accept ?? ""));
        if (!browser) {
          return send(res, 401, { code: outcome.kind === "challenge" ? "insufficient_user_authentication" : "unauthenticated", message: outcome.kind === "challenge" ? "a stronger sign-in is required" : "sign in first", ...(outcome.kind === "challenge" ? { acr_values: outcome.acr, max_age: outcome.maxAge } : {}) }, { "www-authenticate": 'Bearer realm="tenet"' });
        }
        const s = await this.o.signIn.begin({ scheme: this.o.scheme, host: r.host, returnTo: r.query ? `${r.path}?${r.query}` : r.path, ...(outcome.kind === "challenge" ? { acr: outcome.acr, maxAge: outcome.maxAge } : {}) });
        return send(res, 302, undefined, { location: s.url, "set-cookie": s.cookie });
      }
      case "pending":
        return send(res, 403, { code: "pending", message: "access needs an approval", request_id: outcome.requestId, approvers: outcome.approvers, decision_id: outcome.decisionId });
      case "remediate":
        return send(res, 403, { code: "device_remediation", message: `a device that is ${outcome.needs.join(" and ")} is required`, device: outcome.needs, decision_id: outcome.decisionId });
      case "deny":
        return send(res, 403, { code: "forbidden", message: "access denied", decision_id: outcome.decisionId });
      case "unavailable":
        return send(res, 503, { code: "unavailable", message: "access cannot be checked right now" }, { "retry-after": "5" });
    }
  }
}

function send(res: ServerResponse, status: number, body?: unknown, headers: Record<string, string> = {}): void {
  const text = body === undefined ? "" : JSON.stringify(body);
  res.writeHead(status, { ...(text ? { "content-type": "application/json" } : {}), "content-length": Buffer.byteLength(text), "cache-control": "no-store", ...headers });
  res.end(text);
}
