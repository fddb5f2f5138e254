/**
 * The identity assertion the proxy adds to every request it forwards: a JWT signed with the
 * identity provider's current ES256 key (`SigningKeys.sign`), published in the same JWKS
 * (`<publicUrl>/oidc/jwks`), short-lived (60 s by default, never more than 300 s), for exactly one
 * route (`aud`). Upstream apps verify it with `src/sdk/assertion-verifier.ts`.
 *
 * Why an explicit `typ` (`tenet-assertion+jwt`): the same keys sign ID tokens, logout tokens and
 * security event tokens. Without a type of its own, an ID token (`typ: JWT`) whose `aud` happened
 * to equal a route id would pass an assertion check: RFC 8725 §3.11 (cross-JWT confusion)
 * recommends explicit typing, and the SDK verifier refuses any other `typ`. The issuer (`iss`) is
 * Tenet's public URL, not the OIDC issuer (`<publicUrl>/oidc`), which tells the two apart a
 * second time (RFC 8725 §3.12, different validation rules → different issuers).
 *
 * Reuse (`reuse: true`): the proxy issues one assertion per request, and a signature plus a read
 * of the sealed key costs tens to hundreds of microseconds. With reuse on, an assertion with the
 * same audience, subject, session and identity claims (groups, acr, amr, auth_time, device, email)
 * is handed out again while it has at least half of its life left, from a bounded LRU. The cost:
 * its `decision_id`, `jti` and `iat` are those of the request that minted it, so an app that logs
 * `decision_id` sees the first decision of the window, not this one, and `jti` no longer names a
 * single request (an app that used it for replay detection would reject reused ones). What it
 * does not cost: a decision is still made for every request before an assertion is issued, so a
 * revoked session or a changed policy stops requests at the proxy whatever is in the cache; and
 * any change of the identity claims is a different key, so a new assertion. Default: no reuse —
 * one assertion, with its own decision id, per request; turn reuse on when measurements show
 * signing matters (see the numbers in the report for this module).
 */
import { createHash, randomUUID } from "node:crypto";
import type { JWTPayload } from "jose";
import { z } from "zod";
import { TenetError } from "../errors.js";
import { ASSERTION_TYP, MAX_ASSERTION_TTL_SECONDS } from "../sdk/assertion-verifier.js";

export { ASSERTION_HEADER, ASSERTION_TYP } from "../sdk/assertion-verifier.js";

export const DEFAULT_ASSERTION_TTL_SECONDS = 60;
export const DEFAULT_ASSERTION_CACHE_SIZE = 10_000;
/** Bigger than this and upstream servers start refusing the request line + headers (8–16 KiB). */
export const MAX_ASSERTION_BYTES = 8 * 1024;

export type AssertionSigner = (payload: JWTPayload, header: { typ: string }) => Promise<string>;

export interface AssertionIssuerOptions {
  /** Tenet's public URL (the `iss` of every assertion). */
  issuer: string;
  /** Signs with the current key and sets `alg` and `kid` (`(p, h) => keys.sign(p, h)`). */
  sign: AssertionSigner;
  /** Lifetime in seconds; default 60, at most 300. */
  ttlSeconds?: number;
  /** Hand out an unexpired assertion again for the same identity (see above); default false. */
  reuse?: boolean;
  /** Entries of the reuse cache (LRU); default 10 000. */
  cacheSize?: number;
  /** The clock (milliseconds). */
  now?: () => number;
}

const id = z.string().min(1).max(256);
const label = z.string().min(1).max(256);

const inputSchema = z.strictObject({
  audience: z.string().min(1).max(2048),
  subject: id,
  email: z.string().min(3).max(320).optional(),
  groups: z.array(label).max(1000).optional(),
  acr: label.optional(),
  amr: z.array(z.string().min(1).max(64)).max(32).optional(),
  authTime: z.number().int().nonnegative().optional(),
  deviceId: id.optional(),
  sessionId: id.optional(),
  decisionId: id,
});

export type AssertionInput = z.input<typeof inputSchema>;

interface CacheEntry {
  token: Promise<string>;
  /** Milliseconds: reused until then (half of the lifetime). */
  reuseUntil: number;
}

export class AssertionIssuer {
  readonly issuer: string;
  readonly ttlSeconds: number;
  private readonly sign: AssertionSigner;
  private readonly now: () => number;
  private readonly reuse: boolean;
  private readonly cacheSize: number;
  private readonly cache = new Map<string, CacheEntry>();

  constructor(o: AssertionIssuerOptions) {
    if (typeof o.issuer !== "string" || !/^https?:\/\/[^\s]+$/.test(o.issuer)) throw new TypeError("issuer must be Tenet's public http(s) URL");
    if (typeof o.sign !== "function") throw new TypeError("sign must be a function");
    const ttl = o.ttlSeconds ?? DEFAULT_ASSERTION_TTL_SECONDS;
    if (!Number.isInteger(ttl) || ttl < 1 || ttl > MAX_ASSERTION_TTL_SECONDS) throw new TypeError(`ttlSeconds must be a whole number from 1 to ${MAX_ASSERTION_TTL_SECONDS}`);
    const size = o.cacheSize ?? DEFAULT_ASSERTION_CACHE_SIZE;
    if (!Number.isInteger(size) || size < 1) throw new TypeError("cacheSize must be a positive whole number");
    this.issuer = o.issuer.replace(/\/+$/, "");
    this.sign = o.sign;
    this.ttlSeconds = ttl;
    this.reuse = o.reuse === true;
    this.cacheSize = size;
    this.now = o.now ?? Date.now;
  }

  /** A signed assertion for one forwarded request. Bad input → TenetError `validation_error`. */
  async issue(input: AssertionInput): Promise<string> {
    const parsed = inputSchema.safeParse(input);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      throw new TenetError("validation_error", `invalid assertion input: ${issue ? `${issue.path.join(".") || "input"}: ${issue.message}` : "rejected"}`);
    }
    const v = parsed.data;
    if (!this.reuse) return this.mint(v, this.now());

    const key = fingerprint(v);
    const at = this.now();
    const hit = this.cache.get(key);
    if (hit && hit.reuseUntil > at) {
      // Most recently used last: Map keeps insertion order, so the first key is the LRU one.
      this.cache.delete(key);
      this.cache.set(key, hit);
      return hit.token;
    }
    // The promise is cached, not the token, so concurrent requests for one identity sign once.
    const token = this.mint(v, at);
    this.cache.delete(key);
    this.cache.set(key, { token, reuseUntil: at + (this.ttlSeconds * 1000) / 2 });
    token.catch(() => {
      if (this.cache.get(key)?.token === token) this.cache.delete(key);
    });
    while (this.cache.size > this.cacheSize) {
      const oldest = this.cache.keys().next().value;
      if (oldest === undefined) break;
      this.cache.delete(oldest);
    }
    return token;
  }

  /** Forgets reusable assertions (e.g. after a key rotation, so the new key signs at once). */
  clear(): void {
    this.cache.clear();
  }

  /** How many reusable assertions are held (for metrics and tests). */
  get cached(): number {
    return this.cache.size;
  }

  private async mint(v: z.output<typeof inputSchema>, atMs: number): Promise<string> {
    const iat = Math.floor(atMs / 1000);
    // RFC 7519 §4.1 registered claims, then OIDC Core's names where one exists (email, acr, amr,
    // auth_time, sid) so apps that already read ID tokens recognise them.
    const payload: JWTPayload = {
      iss: this.issuer,
      aud: v.audience,
      sub: v.subject,
      iat,
      nbf: iat,
      exp: iat + this.ttlSeconds,
      jti: randomUUID(),
    };
    if (v.email !== undefined) payload.email = v.email;
    if (v.groups !== undefined) payload.groups = v.groups;
    if (v.acr !== undefined) payload.acr = v.acr;
    if (v.amr !== undefined) payload.amr = v.amr;
    if (v.authTime !== undefined) payload.auth_time = v.authTime;
    if (v.deviceId !== undefined) payload.device_id = v.deviceId;
    if (v.sessionId !== undefined) payload.sid = v.sessionId;
    payload.decision_id = v.decisionId;
    const token = await this.sign(payload, { typ: ASSERTION_TYP });
    if (token.length > MAX_ASSERTION_BYTES) throw new TenetError("request_too_large", `the identity assertion for ${v.subject} would be ${token.length} bytes (more than ${MAX_ASSERTION_BYTES}): too many groups`);
    return token;
  }
}

/** Everything in the assertion except what changes per request (decision id, jti, times). */
function fingerprint(v: z.output<typeof inputSchema>): string {
  const parts = [v.audience, v.subject, v.sessionId ?? null, v.email ?? null, v.groups ?? null, v.acr ?? null, v.amr ?? null, v.authTime ?? null, v.deviceId ?? null];
  return createHash("sha256").update(JSON.stringify(parts)).digest("base64url");
}

/**
 * The assertion for a request allowed on a route: audience = the route's URL, everything the
 * identity provider's session says about the person, and the decision that allowed it. Shared by
 * the proxy and ext_authz, so both send upstreams exactly the same thing.
 */
export function assertionForRoute(
  issuer: AssertionIssuer,
  scheme: string,
  route: { host: string; pathPrefix: string },
  identity: { userId: string; email?: string | undefined; groups?: string[] | undefined; acr?: string | undefined; amr?: string[] | undefined; authTime?: number | undefined; sessionId?: string | undefined; deviceId?: string | undefined },
  decisionId: string | undefined,
): Promise<string> {
  return issuer.issue({
    audience: `${scheme}://${route.host}${route.pathPrefix === "/" ? "" : route.pathPrefix}`,
    subject: identity.userId,
    email: identity.email,
    groups: identity.groups,
    acr: identity.acr,
    amr: identity.amr,
    authTime: identity.authTime,
    sessionId: identity.sessionId,
    deviceId: identity.deviceId,
    decisionId: decisionId ?? "public",
  });
}
