/**
 * The proxy signs people in like any relying party: authorization code flow with PKCE against
 * the identity provider (Tenet's own, or any OIDC provider), through `openid-client`. The state,
 * nonce and PKCE verifier of a sign-in in progress travel in a sealed, short-lived cookie, so any
 * proxy replica can finish it. A challenge (step-up) is the same flow with `acr_values`/`max_age`.
 */
import * as client from "openid-client";
import type { MasterKey } from "../../crypto/master-key.js";

const PURPOSE = "tenet/proxy-signin/v1";
export const CALLBACK_PATH = "/.tenet/callback";
const STATE_COOKIE = "tenet_proxy_signin";

interface Pending {
  state: string;
  nonce: string;
  verifier: string;
  /** Where to go back to (a path on the same host). */
  returnTo: string;
  host: string;
  expiresAt: number;
}

/** What an ID token says about a sign-in, kept in the proxy's session cookie. */
export interface SignInClaims {
  acr?: string | undefined;
  amr?: string[] | undefined;
  authTime?: number | undefined;
  sid?: string | undefined;
  email?: string | undefined;
  groups?: string[] | undefined;
}

function signInClaims(c: Record<string, unknown> | undefined): SignInClaims {
  const strings = (v: unknown) => (Array.isArray(v) ? v.filter((x): x is string => typeof x === "string").slice(0, 100) : undefined);
  return {
    acr: typeof c?.acr === "string" ? c.acr : undefined,
    amr: strings(c?.amr),
    authTime: typeof c?.auth_time === "number" ? c.auth_time : undefined,
    sid: typeof c?.sid === "string" ? c.sid : undefined,
    email: typeof c?.email === "string" ? c.email : undefined,
    groups: strings(c?.groups),
  };
}

export interface SignInClientOptions {
  issuer: string;
  clientId: string;
  clientSecret: string;
  master: MasterKey;
  /** http issuers are for tests and local use only. */
  allowInsecure?: boolean;
}

export class ProxySignIn {
  private config: Promise<client.Configuration> | undefined;

  constructor(private readonly o: SignInClientOptions) {}

  private discover(): Promise<client.Configuration> {
    this.config ??= client
      .discovery(new URL(this.o.issuer), this.o.clientId, this.o.clientSecret, undefined, this.o.allowInsecure ? { execute: [client.allowInsecureRequests] } : {})
      .catch((err: unknown) => {
        this.config = undefined;
        throw err;
      });
    return this.config;
  }

  /** Where to send the browser, and the Set-Cookie that remembers this sign-in. */
  async begin(opts: { scheme: string; host: string; returnTo: string; acr?: string | undefined; maxAge?: number | undefined }): Promise<{ url: string; cookie: string }> {
    const config = await this.discover();
    const p: Pending = { state: client.randomState(), nonce: client.randomNonce(), verifier: client.randomPKCECodeVerifier(), returnTo: opts.returnTo, host: opts.host, expiresAt: Date.now() + 600_000 };
    const params: Record<string, string> = {
      redirect_uri: `${opts.scheme}://${opts.host}${CALLBACK_PATH}`,
      scope: "openid profile email groups",
      state: p.state,
      nonce: p.nonce,
      code_challenge: await client.calculatePKCECodeChallenge(p.verifier),
      code_challenge_method: "S256",
    };
    if (opts.acr) params.acr_values = opts.acr;
    if (opts.maxAge !== undefined) params.max_age = String(opts.maxAge);
    const sealed = Buffer.from(JSON.stringify(this.o.master.seal(PURPOSE, Buffer.from(JSON.stringify(p))))).toString("base64url");
    const secure = opts.scheme === "https";
    return { url: client.buildAuthorizationUrl(config, params).href, cookie: `${STATE_COOKIE}=${sealed}; Path=${CALLBACK_PATH}; HttpOnly; SameSite=Lax; Max-Age=600${secure ? "; Secure" : ""}` };
  }

  /**
   * Finishes a sign-in at the callback: the tokens, what the ID token says about the sign-in
   * (for a proxy that cannot ask the provider's sessions directly), and where to go back to.
   * Throws on anything wrong.
   */
  async complete(opts: { scheme: string; host: string; url: string; cookieHeader: string | undefined }): Promise<{ accessToken: string; expiresIn: number; returnTo: string; userId: string; claims: SignInClaims }> {
    const m = /(?:^|;\s*)tenet_proxy_signin=([A-Za-z0-9_-]+)/.exec(opts.cookieHeader ?? "");
    if (!m) throw new Error("no sign-in in progress in this browser");
    const p = JSON.parse(this.o.master.open(PURPOSE, JSON.parse(Buffer.from(m[1]!, "base64url").toString("utf8"))).toString("utf8")) as Pending;
    if (p.host !== opts.host || p.expiresAt < Date.now()) throw new Error("this sign-in expired or belongs to another host");
    const config = await this.discover();
    const tokens = await client.authorizationCodeGrant(config, new URL(opts.url, `${opts.scheme}://${opts.host}`), { pkceCodeVerifier: p.verifier, expectedState: p.state, expectedNonce: p.nonce });
    const idToken = tokens.claims();
    const sub = idToken?.sub;
    if (!sub) throw new Error("the identity provider returned no subject");
    return { accessToken: tokens.access_token, expiresIn: tokens.expires_in ?? 600, returnTo: p.returnTo, userId: sub, claims: signInClaims(idToken) };
  }

  /**
   * RFC 7662 introspection of an access token at the provider, as this client: whether it is
   * still active (its session not ended, its user not suspended) and whose it is.
   */
  async introspect(accessToken: string): Promise<{ active: boolean; sub?: string | undefined; exp?: number | undefined }> {
    const r = await client.tokenIntrospection(await this.discover(), accessToken, { token_type_hint: "access_token" });
    return { active: r.active === true, sub: typeof r.sub === "string" ? r.sub : undefined, exp: typeof r.exp === "number" ? r.exp : undefined };
  }

  /** Clears the sign-in-in-progress cookie. */
  clearCookie(scheme: string): string {
    return `${STATE_COOKIE}=; Path=${CALLBACK_PATH}; HttpOnly; SameSite=Lax; Max-Age=0${scheme === "https" ? "; Secure" : ""}`;
  }
}
