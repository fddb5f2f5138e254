/**
 * Who stands behind an access token, remembered for a moment. The proxy asks this on every
 * request; asking the identity provider each time costs several storage reads. An entry lives at
 * most `ttlMs` (default 2 s, and never past the token's own expiry), and every entry of a user is
 * dropped the moment an identity event about them (suspension, a revoked session, a removed
 * credential, a changed assurance level...) reaches this process. Other replicas' revocations
 * reach it through the deadline. Only live identities are kept: a token that resolves to no one
 * is asked again next time, so signing in takes effect at once.
 */
import { TtlCache } from "../util/ttl-cache.js";
import type { EnforcementIdentity } from "./enforcer.js";

export interface CachedIdentity extends EnforcementIdentity {
  /** The access token's expiry, seconds since the epoch. */
  expiresAt?: number | undefined;
}

export interface IdentityCacheOptions<C = unknown> {
  /** `context`: what else the caller knows of the token (the proxy's session cookie). */
  lookup: (accessToken: string, context?: C) => Promise<CachedIdentity | undefined>;
  /** Longest an identity is reused (ms; default 2000, at most 10 000). */
  ttlMs?: number;
  /** Most identities held (default 10 000). */
  maxEntries?: number;
  now?: () => number;
}

export const DEFAULT_IDENTITY_TTL_MS = 2000;
const MAX_IDENTITY_TTL_MS = 10_000;

export class IdentityCache<C = unknown> {
  private readonly cache: TtlCache<string, CachedIdentity>;
  private readonly inFlight = new Map<string, Promise<CachedIdentity | undefined>>();
  private readonly ttlMs: number;
  private readonly now: () => number;
  // Bumped by every invalidation: a lookup that started before one must not store its answer.
  private generation = 0;

  constructor(private readonly o: IdentityCacheOptions<C>) {
    const ttl = o.ttlMs ?? DEFAULT_IDENTITY_TTL_MS;
    if (!Number.isInteger(ttl) || ttl < 0 || ttl > MAX_IDENTITY_TTL_MS) throw new TypeError(`ttlMs must be a whole number from 0 to ${MAX_IDENTITY_TTL_MS}`);
    this.ttlMs = ttl;
    this.now = o.now ?? Date.now;
    this.cache = new TtlCache(o.maxEntries ?? 10_000, this.now);
  }

  async identityOf(accessToken: string, context?: C): Promise<CachedIdentity | undefined> {
    const hit = this.cache.get(accessToken);
    if (hit) return hit;
    // Concurrent requests with one token (a page's assets) share one lookup.
    const pending = this.inFlight.get(accessToken);
    if (pending) return pending;
    const generation = this.generation;
    const settle = () => {
      if (this.inFlight.get(accessToken) === p) this.inFlight.delete(accessToken);
    };
    const p: Promise<CachedIdentity | undefined> = this.o.lookup(accessToken, context).then(
      (who) => {
        settle();
        if (who && generation === this.generation && this.ttlMs > 0) {
          const until = Math.min(this.now() + this.ttlMs, who.expiresAt !== undefined ? who.expiresAt * 1000 : Number.POSITIVE_INFINITY);
          this.cache.set(accessToken, who, until);
        }
        return who;
      },
      (err: unknown) => {
        settle();
        throw err;
      },
    );
    this.inFlight.set(accessToken, p);
    return p;
  }

  /** Forgets everything known about a user (their identity changed). */
  forgetUser(userId: string): void {
    this.generation++;
    this.inFlight.clear();
    this.cache.deleteWhere((who) => who.userId === userId);
  }

  clear(): void {
    this.generation++;
    this.inFlight.clear();
    this.cache.clear();
  }

  get size(): number {
    return this.cache.size;
  }
}
