/**
 * Who stands behind an access token, for a proxy running apart from the identity provider (or in
 * front of another OIDC provider): the provider is asked whether the token is still active
 * (RFC 7662 introspection, as the proxy's own client), so an ended session, a revoked grant or a
 * suspended user stops requests within the identity cache's 2 s; how the person signed in (acr,
 * amr, auth_time, groups) is what the ID token said, kept sealed in the session cookie. A step-up
 * is a new sign-in and so a new cookie.
 *
 * Limitation: a downgrade of the provider's session (risk rose, a factor was removed) reaches a
 * remote proxy only as the token becoming inactive, which Tenet's provider does on revocation
 * but not on a downgrade alone.
 */
import type { CachedIdentity } from "../identity-cache.js";
import type { ProxySession } from "../session-cookie.js";

export interface Introspector {
  introspect(accessToken: string): Promise<{ active: boolean; sub?: string | undefined; exp?: number | undefined }>;
}

export async function introspectedIdentity(introspector: Introspector, accessToken: string, session?: ProxySession): Promise<CachedIdentity | undefined> {
  const r = await introspector.introspect(accessToken);
  if (!r.active) return undefined;
  const userId = r.sub ?? session?.userId;
  // A cookie whose token now speaks for someone else is not trusted for anything.
  if (!userId || (session && session.userId !== userId)) return undefined;
  const c = session?.claims;
  return {
    userId,
    sessionId: c?.sid ?? session?.sessionId,
    acr: c?.acr,
    amr: c?.amr,
    authTime: c?.authTime,
    email: c?.email,
    groups: c?.groups ?? [],
    expiresAt: r.exp,
  };
}
