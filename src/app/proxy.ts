/**
 * The identity-aware proxy wired in-process: routes from the access configuration and the API
 * (the route catalog; changes take effect on the next request), decisions from this server's
 * decision point, sign-in through this server's identity provider (as its own confidential
 * client, `tenet-proxy`, whose redirect URIs follow the routes' callback URLs), and identity
 * assertions signed with the provider's keys.
 */
import type { MasterKey } from "../crypto/master-key.js";
import { AssertionIssuer } from "../enforcement/assertion.js";
import { Enforcer } from "../enforcement/enforcer.js";
import { IdentityAwareProxy } from "../enforcement/proxy/proxy.js";
import { ExtAuthz } from "../enforcement/ext-authz.js";
import { IdentityCache } from "../enforcement/identity-cache.js";
import { LiveRoutes } from "../enforcement/live-routes.js";
import { CALLBACK_PATH, ProxySignIn } from "../enforcement/proxy/signin.js";
import type { ProxyRouteCatalog } from "../enforcement/route-store.js";
import type { ProxyRoute } from "../enforcement/routes.js";
import { SessionCookies } from "../enforcement/session-cookie.js";
import { TrustedPeers } from "../enforcement/trusted-peers.js";
import { TenetError } from "../errors.js";
import type { IdentityPlane } from "../identity/idp.js";
import { DocumentConflict } from "../storage/interfaces.js";
import type { AccessDecisionPoint } from "../policy/access/decision-point.js";
import type { IdentityParts } from "./identity.js";

export const PROXY_CLIENT_ID = "tenet-proxy";

export async function assembleProxy(o: {
  identity: IdentityParts;
  routes: ProxyRouteCatalog;
  pdp: AccessDecisionPoint;
  master: MasterKey;
  defaultStoreId: () => string | undefined;
  /** Envoy's addresses (access config `proxy.extAuthz.trustedPeers`). */
  extAuthzTrustedPeers: string[];
  log: (msg: string, err?: unknown) => void;
}): Promise<{ proxy: IdentityAwareProxy; extAuthz: ExtAuthz }> {
  const idp = o.identity.idp;
  const scheme = idp.publicUrl.startsWith("https:") ? "https" : "http";
  // Said once per route, not on every change.
  const warned = new Set<string>();
  const warn = (ids: string[]) => {
    const fresh = ids.filter((id) => !warned.has(id));
    for (const id of fresh) warned.add(id);
    if (fresh.length > 0) o.log(`proxy: over plain http only loopback hosts can sign in; route(s) ${fresh.join(", ")} cannot sign anyone in (serve Tenet over https)`);
  };
  await syncProxyClient(idp, scheme, o.routes.routes(), warn);
  const secret = String((await idp.clients.find(PROXY_CLIENT_ID))?.client_secret ?? "");
  // Routes put or deleted (here or on another replica): the next request matches the new table,
  // and the client's redirect URIs follow before the change is reported done.
  const live = new LiveRoutes(o.routes.routes());
  o.routes.onChange(async (routes) => {
    live.replace(routes);
    await syncProxyClient(idp, scheme, routes, warn);
  });
  // Every request asks who is behind its session; the answer is kept for 2 s, and forgotten the
  // moment anything happens to that user's identity (revoked session, suspension, ...).
  const identities = new IdentityCache({ lookup: (token) => idp.identityOfAccessToken(token) });
  idp.events.on((e) => identities.forgetUser(e.userId));
  const shared = {
    routes: live,
    identityOf: (token: string) => identities.identityOf(token),
    assertions: new AssertionIssuer({ issuer: idp.publicUrl, sign: (p, h) => idp.jwtSigner.sign(p, h) }),
    cookies: new SessionCookies(o.master, { secure: scheme === "https" }),
    signIn: new ProxySignIn({ issuer: idp.issuer, clientId: PROXY_CLIENT_ID, clientSecret: secret, master: o.master, allowInsecure: scheme === "http" }),
    scheme,
  } as const;
  const enforcer = (via: string) => new Enforcer({ decide: (storeId, req) => o.pdp.decide(storeId, req, { via, reuse: true }), defaultStoreId: o.defaultStoreId });
  return {
    // Upstreams may fetch the assertion keys from their own host (the provider's public JWKS).
    proxy: new IdentityAwareProxy({ ...shared, enforcer: enforcer("proxy"), onError: o.log, jwks: () => idp.keys.publicJwks() }),
    extAuthz: new ExtAuthz({ ...shared, enforcer: enforcer("ext_authz"), trustedPeers: new TrustedPeers(o.extAuthzTrustedPeers) }),
  };
}

/**
 * Registers `tenet-proxy` or brings its redirect URIs in line with the routes (the secret stays:
 * the proxy's sign-in holds it). Without a route to sign in to, the client keeps its secret but
 * loses the code grant (which needs a redirect URI), so it can sign no one in. Replicas may race:
 * a write that lost is read again and retried.
 */
async function syncProxyClient(idp: IdentityPlane, scheme: string, routes: ProxyRoute[], unsignable: (routeIds: string[]) => void): Promise<void> {
  // Wildcard hosts cannot be registered as redirect URIs: their sign-in needs a fixed host (later).
  // Over plain http the provider accepts loopback redirect URIs only (RFC 8252 §7.3): routes on
  // other hosts then serve public paths but cannot sign anyone in (development only).
  const signable = (r: ProxyRoute) => !r.hostSuffix && (scheme === "https" || LOOPBACK.test(r.host));
  const redirectUris = [...new Set(routes.filter(signable).map((r) => `${scheme}://${r.host}${CALLBACK_PATH}`))].sort();
  unsignable(routes.filter((r) => !r.hostSuffix && !r.public && !signable(r)).map((r) => r.id));
  const input =
    redirectUris.length > 0
      ? { client_id: PROXY_CLIENT_ID, client_name: "Tenet proxy", redirect_uris: redirectUris, grant_types: ["authorization_code" as const] }
      : { client_id: PROXY_CLIENT_ID, client_name: "Tenet proxy", redirect_uris: [], grant_types: ["refresh_token" as const] };
  for (let attempt = 1; ; attempt++) {
    try {
      const existing = await idp.clients.get(PROXY_CLIENT_ID);
      if (!existing) await idp.clients.create(input);
      else if (!sameStrings(existing.redirect_uris, input.redirect_uris) || !sameStrings(existing.grant_types, input.grant_types)) await idp.clients.update(PROXY_CLIENT_ID, input);
      return;
    } catch (err) {
      // Another replica created or changed it first (a conflict): read it again.
      const lost = (err instanceof TenetError && err.code === "conflict") || err instanceof DocumentConflict;
      if (!lost || attempt >= 3) throw err;
    }
  }
}

const LOOPBACK = /^(localhost|127\.0\.0\.1|\[::1\])(:\d+)?$/;

function sameStrings(a: string[], b: string[]): boolean {
  const sorted = [...b].sort();
  return a.length === b.length && [...a].sort().every((x, i) => x === sorted[i]);
}
