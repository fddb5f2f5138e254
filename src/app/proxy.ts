/**
 * The identity-aware proxy wired in-process: routes from the access configuration, decisions from
 * this server's decision point, sign-in through this server's identity provider (as its own
 * confidential client, `tenet-proxy`, whose redirect URIs are the routes' callback URLs), and
 * identity assertions signed with the provider's keys.
 */
import type { MasterKey } from "../crypto/master-key.js";
import { AssertionIssuer } from "../enforcement/assertion.js";
import { Enforcer } from "../enforcement/enforcer.js";
import { IdentityAwareProxy } from "../enforcement/proxy/proxy.js";
import { ExtAuthz } from "../enforcement/ext-authz.js";
import { IdentityCache } from "../enforcement/identity-cache.js";
import { CALLBACK_PATH, ProxySignIn } from "../enforcement/proxy/signin.js";
import { type ProxyRoute, RouteTable } from "../enforcement/routes.js";
import { SessionCookies } from "../enforcement/session-cookie.js";
import type { AccessDecisionPoint } from "../policy/access/decision-point.js";
import type { IdentityParts } from "./identity.js";

export const PROXY_CLIENT_ID = "tenet-proxy";

export async function assembleProxy(o: {
  identity: IdentityParts;
  routes: ProxyRoute[];
  pdp: AccessDecisionPoint;
  master: MasterKey;
  defaultStoreId: () => string | undefined;
  log: (msg: string, err?: unknown) => void;
}): Promise<{ proxy: IdentityAwareProxy; extAuthz: ExtAuthz }> {
  const idp = o.identity.idp;
  const scheme = idp.publicUrl.startsWith("https:") ? "https" : "http";
  // Wildcard hosts cannot be registered as redirect URIs: their sign-in needs a fixed host (later).
  const redirectUris = [...new Set(o.routes.filter((r) => !r.hostSuffix).map((r) => `${scheme}://${r.host}${CALLBACK_PATH}`))];
  const input = { client_id: PROXY_CLIENT_ID, client_name: "Tenet proxy", redirect_uris: redirectUris, grant_types: ["authorization_code" as const] };
  if (!(await idp.clients.get(PROXY_CLIENT_ID))) await idp.clients.create(input);
  else await idp.clients.update(PROXY_CLIENT_ID, input);
  const secret = String((await idp.clients.find(PROXY_CLIENT_ID))?.client_secret ?? "");
  // Every request asks who is behind its session; the answer is kept for 2 s, and forgotten the
  // moment anything happens to that user's identity (revoked session, suspension, ...).
  const identities = new IdentityCache({ lookup: (token) => idp.identityOfAccessToken(token) });
  idp.events.on((e) => identities.forgetUser(e.userId));
  const shared = {
    routes: new RouteTable(o.routes),
    identityOf: (token: string) => identities.identityOf(token),
    assertions: new AssertionIssuer({ issuer: idp.publicUrl, sign: (p, h) => idp.jwtSigner.sign(p, h) }),
    cookies: new SessionCookies(o.master, { secure: scheme === "https" }),
    signIn: new ProxySignIn({ issuer: idp.issuer, clientId: PROXY_CLIENT_ID, clientSecret: secret, master: o.master, allowInsecure: scheme === "http" }),
    scheme,
  } as const;
  const enforcer = (via: string) => new Enforcer({ decide: (storeId, req) => o.pdp.decide(storeId, req, { via }), defaultStoreId: o.defaultStoreId });
  return {
    proxy: new IdentityAwareProxy({ ...shared, enforcer: enforcer("proxy"), onError: o.log }),
    extAuthz: new ExtAuthz({ ...shared, enforcer: enforcer("ext_authz") }),
  };
}
