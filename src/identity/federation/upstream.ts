/**
 * The relying-party side of one upstream OpenID provider, with `openid-client`: discovery
 * (cached, refreshed when it is old or a request failed), the authorization URL, and the code
 * exchange with its checks — `state` (RFC 6749 §10.12), `iss` (RFC 9207), PKCE S256 (RFC 7636),
 * and the ID token's signature, `iss`, `aud`, `exp` and `nonce` (OIDC Core §3.1.3.7).
 *
 * openid-client's errors are turned into TenetErrors whose messages carry only the upstream's
 * OAuth error code: the library's own errors may hold request or response details.
 */
import * as oidc from "openid-client";
import { TenetError } from "../../errors.js";
import type { Claims } from "./claims.js";
import type { FederationProvider } from "./config.js";

/** Metadata and keys change rarely; a failure also drops the cached copy. */
const DISCOVERY_TTL_MS = 60 * 60_000;
const HTTP_TIMEOUT_SECONDS = 10;
const OAUTH_ERROR = /^[\x20-\x21\x23-\x5b\x5d-\x7e]{1,64}$/;

export type ProblemReporter = (message: string, err?: unknown) => void;

/** An OAuth error code as sent (RFC 6749 §4.1.2.1 allows %x20-21 / %x23-5B / %x5D-7E), or a placeholder. */
export function errorCode(v: unknown): string {
  return typeof v === "string" && OAUTH_ERROR.test(v) ? v : "invalid_error_code";
}

export class Upstream {
  private cached: { config: Promise<oidc.Configuration>; at: number } | undefined;

  constructor(
    readonly provider: FederationProvider,
    private readonly now: () => number,
    private readonly onProblem: ProblemReporter,
  ) {}

  /** The discovered configuration; `unavailable` when the issuer cannot be reached or is wrong. */
  async configuration(): Promise<oidc.Configuration> {
    if (!this.cached || this.now() - this.cached.at > DISCOVERY_TTL_MS) {
      const p = this.provider;
      const auth = p.tokenEndpointAuthMethod === "client_secret_post" ? oidc.ClientSecretPost(p.clientSecret) : oidc.ClientSecretBasic(p.clientSecret);
      const config = oidc.discovery(new URL(p.issuer), p.clientId, { token_endpoint_auth_method: p.tokenEndpointAuthMethod }, auth, {
        timeout: HTTP_TIMEOUT_SECONDS,
        ...(p.allowInsecureRequests ? { execute: [oidc.allowInsecureRequests] } : {}),
      });
      this.cached = { config, at: this.now() };
    }
    try {
      return await this.cached.config;
    } catch (err) {
      this.forget();
      this.onProblem(`federation: discovery of ${this.provider.issuer} (provider ${this.provider.id}) failed`, err);
      throw new TenetError("unavailable", `sign-in with ${this.provider.name} is unavailable: its configuration could not be read`);
    }
  }

  /** Drops the cached discovery, so the next sign-in reads it again. */
  forget(): void {
    this.cached = undefined;
  }

  async authorizationUrl(params: Record<string, string>): Promise<URL> {
    return oidc.buildAuthorizationUrl(await this.configuration(), params);
  }

  /**
   * Exchanges the code in `callback` (the redirect URI with the response's query) and returns
   * the ID token's claims merged over the UserInfo response's (OIDC Core §5.4: scope claims may
   * be released at the UserInfo endpoint only; the signed ID token wins where both have one, and
   * `acr`, `amr` and `auth_time` come from the ID token only).
   */
  async exchange(callback: URL, checks: { state: string; nonce: string; codeVerifier: string; maxAge?: number | undefined }): Promise<Claims> {
    const config = await this.configuration();
    let tokens: Awaited<ReturnType<typeof oidc.authorizationCodeGrant>>;
    try {
      tokens = await oidc.authorizationCodeGrant(config, callback, {
        pkceCodeVerifier: checks.codeVerifier,
        expectedState: checks.state,
        expectedNonce: checks.nonce,
        idTokenExpected: true,
        ...(checks.maxAge !== undefined ? { maxAge: checks.maxAge } : {}),
      });
    } catch (err) {
      throw this.translate(err);
    }
    const idToken = tokens.claims();
    if (!idToken) throw new TenetError("unauthenticated", `${this.provider.name} returned no ID token; start again`);
    let userinfo: Claims = {};
    if (config.serverMetadata().userinfo_endpoint && tokens.access_token) {
      try {
        userinfo = await oidc.fetchUserInfo(config, tokens.access_token, idToken.sub);
      } catch (err) {
        // Going on without it could drop group memberships that only UserInfo carries: fail closed.
        throw this.translate(err);
      }
    }
    // The authentication's own facts (OIDC Core §2) are the ID token's alone.
    const { acr: _acr, amr: _amr, auth_time: _authTime, ...profile } = userinfo;
    return { ...profile, ...idToken };
  }

  private translate(err: unknown): TenetError {
    const name = this.provider.name;
    if (err instanceof oidc.AuthorizationResponseError) {
      // The callback itself carried an error (RFC 6749 §4.1.2.1), after state and iss matched.
      return new TenetError("forbidden", `${name} refused the sign-in (${errorCode(err.error)})`);
    }
    // The token or UserInfo endpoint refused: its error code in the body, or (on a 401) in a
    // WWW-Authenticate challenge (RFC 6750 §3).
    if (err instanceof oidc.ResponseBodyError || err instanceof oidc.WWWAuthenticateChallengeError) {
      const code = errorCode(err instanceof oidc.ResponseBodyError ? err.error : err.cause[0]?.parameters.error);
      if (code === "invalid_client" || code === "unauthorized_client") {
        this.onProblem(`federation: ${this.provider.issuer} refused Tenet's client credentials (${code}) for provider ${this.provider.id}; check clientId and the secret`, undefined);
        return new TenetError("unavailable", `sign-in with ${name} is misconfigured (${code}); tell an administrator`);
      }
      if (err.status >= 500) {
        this.forget();
        return new TenetError("unavailable", `${name} is unavailable (${code}); try again later`);
      }
      return new TenetError("unauthenticated", `${name} did not accept the sign-in (${code}); start again`);
    }
    if (isNetworkFailure(err)) {
      this.forget();
      this.onProblem(`federation: ${this.provider.issuer} (provider ${this.provider.id}) could not be reached`, err);
      return new TenetError("unavailable", `${name} could not be reached; try again later`);
    }
    // A response that fails the checks (state, iss, nonce, signature, audience, expiry, auth_time).
    this.onProblem(`federation: a sign-in response from ${this.provider.issuer} (provider ${this.provider.id}) failed its checks`, err);
    return new TenetError("unauthenticated", `the response from ${name} does not match the sign-in that was started; start again`);
  }
}

function isNetworkFailure(err: unknown): boolean {
  if (err instanceof oidc.ClientError) {
    // A timeout, or an HTTP status where JSON was expected (a proxy's 502 page).
    return err.code === "OAUTH_TIMEOUT" || err.code === "OAUTH_ABORT" || err.code === "OAUTH_RESPONSE_IS_NOT_CONFORM" || err.code === "OAUTH_RESPONSE_IS_NOT_JSON";
  }
  // fetch: `TypeError: fetch failed` with the socket error as its cause.
  return err instanceof TypeError && err.cause !== undefined;
}
