/**
 * Verifies OIDC bearer tokens (JWT access tokens) from configured issuers: signature against the
 * issuer's JWKS (fetched from its discovery document and cached by jose), `iss`, `aud`, `exp`,
 * with an explicit algorithm allow-list.
 */
import { createRemoteJWKSet, jwtVerify, type JWTPayload } from "jose";
import { TenetError } from "../../errors.js";

export interface IssuerConfig {
  issuer: string;
  audience: string;
  /** Defaults to `${issuer}/.well-known/jwks.json` discovered via openid-configuration. */
  jwksUri?: string | undefined;
}

const ALGORITHMS = ["ES256", "EdDSA", "RS256", "PS256"];

export class JwtVerifier {
  private readonly jwks = new Map<string, ReturnType<typeof createRemoteJWKSet>>();

  constructor(private readonly issuers: IssuerConfig[]) {}

  private async keySet(cfg: IssuerConfig): Promise<ReturnType<typeof createRemoteJWKSet>> {
    let set = this.jwks.get(cfg.issuer);
    if (!set) {
      let uri = cfg.jwksUri;
      if (!uri) {
        const res = await fetch(`${cfg.issuer.replace(/\/$/, "")}/.well-known/openid-configuration`, { signal: AbortSignal.timeout(5000) });
        if (!res.ok) throw new TenetError("unavailable", `cannot fetch the discovery document of ${cfg.issuer}`);
        uri = ((await res.json()) as { jwks_uri?: string }).jwks_uri;
        if (!uri) throw new TenetError("unavailable", `${cfg.issuer} publishes no jwks_uri`);
      }
      set = createRemoteJWKSet(new URL(uri), { timeoutDuration: 5000, cooldownDuration: 30_000 });
      this.jwks.set(cfg.issuer, set);
    }
    return set;
  }

  async verify(token: string): Promise<JWTPayload & { iss: string; sub: string }> {
    let iss: unknown;
    try {
      iss = JSON.parse(Buffer.from(token.split(".")[1] ?? "", "base64url").toString("utf8")).iss;
    } catch {
      throw new TenetError("unauthenticated", "invalid credentials: not a JWT");
    }
    const cfg = this.issuers.find((i) => i.issuer === iss);
    if (!cfg) throw new TenetError("unauthenticated", "token issuer is not trusted");
    try {
      const { payload } = await jwtVerify(token, await this.keySet(cfg), { issuer: cfg.issuer, audience: cfg.audience, algorithms: ALGORITHMS });
      if (typeof payload.sub !== "string") throw new TenetError("unauthenticated", "token has no subject");
      return payload as JWTPayload & { iss: string; sub: string };
    } catch (err) {
      if (err instanceof TenetError) throw err;
      throw new TenetError("unauthenticated", `invalid access token: ${(err as Error).message}`);
    }
  }
}
