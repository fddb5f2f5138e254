/**
 * Authenticates every API request that needs a scope: `Authorization: Bearer <token>` with a
 * Tenet API key (`tenet_...`) or an OIDC access token (JWT) from a configured issuer. Keys are
 * limited to their scopes and stores and rate-limited per key. Anonymous callers are refused.
 */
import type { IncomingHttpHeaders } from "node:http";
import { timingSafeEqual } from "node:crypto";
import { TenetError } from "../../errors.js";
import { type ApiKeysBackend, parseApiKey, type Scope, secretMatches } from "../../identity/api-keys/api-key.js";
import type { JwtVerifier } from "./jwt.js";
import { RateLimiter } from "./rate-limit.js";

export interface Principal {
  id: string;
  kind: "api_key" | "jwt";
  scopes: ReadonlySet<string>;
  stores: ReadonlySet<string> | "*";
}

/** What authentication reads of a request (a Fastify request or a decision-lane request). */
export interface AuthRequest {
  readonly headers: IncomingHttpHeaders;
  readonly params?: unknown;
}

export interface Authenticator {
  /**
   * The caller's principal, or throws. May answer synchronously (a cached API key) to spare the
   * request a promise; a promise otherwise.
   */
  authenticate(req: AuthRequest, scope: Scope): Principal | Promise<Principal>;
}

/** `admin` implies every scope; `write` implies `read`; `read` implies `check`. */
const IMPLIES: Record<Scope, Scope[]> = {
  admin: ["admin", "write", "read", "check"],
  write: ["write", "read", "check"],
  read: ["read", "check"],
  check: ["check"],
};

function expand(scopes: readonly string[]): Set<string> {
  const out = new Set<string>();
  for (const s of scopes) for (const i of IMPLIES[s as Scope] ?? []) out.add(i);
  return out;
}

/** Refuses a store-scoped credential on another store (routes without the store in the path call this). */
export function authorizeStore(principal: Principal | undefined, storeId: string): void {
  if (!principal) throw new TenetError("unauthenticated", "missing credentials");
  if (principal.stores !== "*" && !principal.stores.has(storeId)) {
    throw new TenetError("forbidden", "this credential may not use this store");
  }
}

/** Refuses store-scoped credentials on routes that span every store (metrics, store lists). */
export function requireGlobal(principal: Principal | undefined): void {
  if (!principal) throw new TenetError("unauthenticated", "missing credentials");
  if (principal.stores !== "*") throw new TenetError("forbidden", "this route needs a credential valid for every store");
}

interface CachedKey {
  principal: Principal;
  secretHash: string;
  rateLimit: number;
  until: number;
  /**
   * The secret, once a presentation of it has matched `secretHash`: later presentations are
   * compared with it in constant time (timingSafeEqual) instead of hashing each one.
   */
  verified: { secret: Buffer; scratch: Buffer } | undefined;
}

const BEARER = /^Bearer\s+(\S+)$/i;

/**
 * Constant-time comparison of a presented secret with one verified earlier (API key secrets are
 * ASCII, one byte per character). The presented secret is copied into the key's own scratch
 * buffer rather than a new one: comparisons are synchronous, so they never overlap.
 */
function sameSecret(secret: string, verified: { secret: Buffer; scratch: Buffer }): boolean {
  if (secret.length !== verified.secret.length) return false;
  verified.scratch.write(secret, 0, "latin1");
  return timingSafeEqual(verified.scratch, verified.secret);
}

export class ApiAuthenticator implements Authenticator {
  private readonly limiter = new RateLimiter();
  /** Verified keys are cached briefly so a check does not hit the database; revocation clears it. */
  private readonly cache = new Map<string, CachedKey>();

  constructor(
    private readonly keys: ApiKeysBackend,
    private readonly jwt: JwtVerifier | null = null,
    private readonly cacheMs = 5000,
  ) {}

  forget(id: string): void {
    this.cache.delete(id);
  }

  authenticate(req: AuthRequest, scope: Scope): Principal | Promise<Principal> {
    const header = req.headers.authorization;
    const bearer = typeof header === "string" ? BEARER.exec(header) : null;
    if (!bearer) {
      throw new TenetError("unauthenticated", "missing credentials: send 'Authorization: Bearer <api key or access token>'");
    }
    const token = bearer[1]!;
    if (!token.startsWith("tenet_")) return this.fromJwt(token).then((p) => this.authorize(req, scope, p));
    // The fast path: a key whose secret has been verified within the cache time.
    const parsed = parseApiKey(token);
    const entry = parsed ? this.cache.get(parsed.id) : undefined;
    if (parsed && entry?.verified && entry.until >= Date.now()) {
      if (!sameSecret(parsed.secret, entry.verified)) throw new TenetError("unauthenticated", "invalid or revoked API key");
      return this.authorize(req, scope, this.admit(parsed.id, entry));
    }
    return this.fromApiKey(token).then((p) => this.authorize(req, scope, p));
  }

  private authorize(req: AuthRequest, scope: Scope, principal: Principal): Principal {
    if (!principal.scopes.has(scope)) throw new TenetError("forbidden", `this credential lacks the '${scope}' scope`);
    const storeId = (req.params as { store_id?: string } | undefined)?.store_id;
    if (storeId) authorizeStore(principal, storeId);
    if ((scope === "admin" && !storeId && principal.stores !== "*")) {
      throw new TenetError("forbidden", "store-scoped credentials cannot manage stores");
    }
    return principal;
  }

  /** Applies the key's rate limit; returns its principal. */
  private admit(id: string, entry: CachedKey): Principal {
    if (entry.rateLimit > 0) {
      const wait = this.limiter.take(id, entry.rateLimit);
      if (wait > 0) {
        throw Object.assign(new TenetError("rate_limited", `rate limit of ${entry.rateLimit} requests/s exceeded; retry after ${wait} s`), { retryAfter: wait });
      }
    }
    return entry.principal;
  }

  private async fromApiKey(token: string): Promise<Principal> {
    const parsed = parseApiKey(token);
    if (!parsed) throw new TenetError("unauthenticated", "malformed API key");
    const now = Date.now();
    let entry = this.cache.get(parsed.id);
    if (!entry || entry.until < now) {
      const rec = await this.keys.getApiKey(parsed.id);
      if (!rec || rec.revokedAt) {
        this.cache.delete(parsed.id);
        throw new TenetError("unauthenticated", "invalid or revoked API key");
      }
      entry = {
        principal: { id: `key:${rec.id}`, kind: "api_key", scopes: expand(rec.scopes), stores: rec.stores.includes("*") ? "*" : new Set(rec.stores) },
        secretHash: rec.secretHash,
        rateLimit: rec.rateLimit,
        until: now + this.cacheMs,
        verified: undefined,
      };
      this.cache.set(parsed.id, entry);
    }
    if (entry.verified) {
      // Verified by an earlier request while this one waited for the database.
      if (!sameSecret(parsed.secret, entry.verified)) throw new TenetError("unauthenticated", "invalid or revoked API key");
    } else {
      if (!secretMatches(parsed.secret, entry.secretHash)) throw new TenetError("unauthenticated", "invalid or revoked API key");
      // Buffers of their own, not slices of Buffer's shared pool.
      const secret = Buffer.alloc(parsed.secret.length);
      secret.write(parsed.secret, 0, "latin1");
      entry.verified = { secret, scratch: Buffer.alloc(secret.length) };
    }
    return this.admit(parsed.id, entry);
  }

  private async fromJwt(token: string): Promise<Principal> {
    if (!this.jwt) throw new TenetError("unauthenticated", "invalid credentials: not a Tenet API key and no OIDC issuer is configured");
    const claims = await this.jwt.verify(token);
    const scopes = typeof claims.scope === "string" ? claims.scope.split(" ").filter((s) => s in IMPLIES) : [];
    return { id: `jwt:${claims.iss}:${claims.sub}`, kind: "jwt", scopes: expand(scopes), stores: "*" };
  }
}
