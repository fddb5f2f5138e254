/**
 * Rate limits for the sign-in endpoints, per client address and per account, in memory (one
 * process; each replica limits on its own, which only multiplies the limits by the replicas).
 *
 * Algorithm: GCRA (the generic cell rate algorithm, a token bucket kept as one number per key:
 * the "theoretical arrival time"). `limit` requests per `windowMs`, all at once if they like,
 * then one every `windowMs / limit`. A key whose arrival time has passed is the same as no key,
 * so it can be forgotten at any moment.
 *
 * Memory is bounded: at most `maxKeys` keys per limit. Keys are kept in the order they were last
 * touched; expired ones are swept from the old end as requests come, and when the map is full the
 * least recently touched key is dropped. An attacker rotating through addresses therefore costs
 * a bounded amount of memory; what they gain — fresh buckets — they would have had anyway with
 * new addresses, which is why per-account limits and the account lockout exist too.
 *
 * Addresses: IPv4 per address; IPv6 per /64, since one subscriber usually gets a whole /64 (RFC
 * 6177) and can pick any of its 2^64 addresses; IPv4-mapped IPv6 (`::ffff:192.0.2.1`) is the
 * IPv4 address.
 */
import { createHash } from "node:crypto";
import { isIP } from "node:net";
import { TenetError } from "../../errors.js";

export interface RateLimit {
  /** Requests allowed in a burst, and per window on average. */
  limit: number;
  windowMs: number;
}

export interface KeyedLimiterOptions {
  /** Keys remembered at most (default 100,000). */
  maxKeys?: number | undefined;
  now?: () => number;
}

const DEFAULT_MAX_KEYS = 100_000;
/** Expired keys swept per call: keeps each call O(1) while memory drains steadily. */
const SWEEP_PER_CALL = 8;

/** One limit over many keys (GCRA). */
export class KeyedLimiter {
  private readonly tat = new Map<string, number>();
  private readonly interval: number;
  private readonly maxKeys: number;
  private readonly now: () => number;

  constructor(
    readonly rate: RateLimit,
    opts: KeyedLimiterOptions = {},
  ) {
    checkLimit(rate, "rate limit");
    const max = opts.maxKeys ?? DEFAULT_MAX_KEYS;
    if (!Number.isSafeInteger(max) || max < 1) throw new TenetError("validation_error", "maxKeys must be a positive whole number");
    this.interval = rate.windowMs / rate.limit;
    this.maxKeys = max;
    this.now = opts.now ?? Date.now;
  }

  /** Takes `cost` (default 1): 0 when allowed (and counted), else the seconds to wait. */
  take(key: string, cost = 1): number {
    return this.run(key, cost, true);
  }

  /** As `take`, without counting anything. */
  peek(key: string, cost = 1): number {
    return this.run(key, cost, false);
  }

  /** Forgets the key (its next request starts a full burst). */
  reset(key: string): void {
    this.tat.delete(key);
  }

  /** Keys remembered now. */
  get size(): number {
    return this.tat.size;
  }

  private run(key: string, cost: number, record: boolean): number {
    if (!Number.isSafeInteger(cost) || cost < 1 || cost > this.rate.limit) throw new RangeError(`cost must be a whole number from 1 to ${this.rate.limit}`);
    const now = this.now();
    this.sweep(now);
    const stored = this.tat.get(key);
    const next = Math.max(stored ?? now, now) + cost * this.interval;
    const allowAt = next - this.rate.windowMs;
    if (allowAt > now) {
      // Refused: nothing counted, but the key is touched so a busy key is the last to be dropped.
      if (record && stored !== undefined) this.touch(key, stored);
      return Math.max(1, Math.ceil((allowAt - now) / 1000));
    }
    if (record) this.touch(key, next);
    return 0;
  }

  private touch(key: string, tat: number): void {
    this.tat.delete(key);
    if (this.tat.size >= this.maxKeys) {
      const oldest = this.tat.keys().next();
      if (!oldest.done) this.tat.delete(oldest.value);
    }
    this.tat.set(key, tat);
  }

  private sweep(now: number): void {
    let n = 0;
    for (const [k, t] of this.tat) {
      if (n++ >= SWEEP_PER_CALL || t > now) break;
      this.tat.delete(k);
    }
  }
}

/**
 * The bucket of a client address: `ip:<IPv4>`, or `ip6:<first four groups>::/64`. Anything that
 * is not an address (a misconfigured proxy header) shares the bucket `ip:unknown`, so it is
 * limited rather than unlimited.
 */
export function ipBucket(ip: string): string {
  if (typeof ip !== "string") return "ip:unknown";
  const bare = ip.trim().replace(/^\[|\]$/g, "");
  const zoneless = bare.split("%")[0]!;
  const family = isIP(zoneless);
  if (family === 4) return `ip:${zoneless}`;
  if (family !== 6) return "ip:unknown";
  const groups = expandIPv6(zoneless);
  // IPv4-mapped (::ffff:a.b.c.d, RFC 4291 §2.5.5.2): the IPv4 client it stands for.
  if (groups.slice(0, 5).every((g) => g === 0) && groups[5] === 0xffff) {
    return `ip:${groups[6]! >> 8}.${groups[6]! & 255}.${groups[7]! >> 8}.${groups[7]! & 255}`;
  }
  return `ip6:${groups.slice(0, 4).map((g) => g.toString(16)).join(":")}::/64`;
}

/** The eight 16-bit groups of a valid IPv6 address (as `isIP` accepts it). */
function expandIPv6(addr: string): number[] {
  // A dotted IPv4 tail (`::ffff:192.0.2.1`) is the last two groups written another way.
  const text = addr.replace(/(\d+)\.(\d+)\.(\d+)\.(\d+)$/, (_m, a: string, b: string, c: string, d: string) =>
    `${((Number(a) << 8) | Number(b)).toString(16)}:${((Number(c) << 8) | Number(d)).toString(16)}`,
  );
  const parse = (s: string) => (s === "" ? [] : s.split(":").map((g) => parseInt(g, 16)));
  const cut = text.indexOf("::");
  if (cut < 0) return parse(text);
  const left = parse(text.slice(0, cut));
  const right = parse(text.slice(cut + 2));
  return [...left, ...Array<number>(8 - left.length - right.length).fill(0), ...right];
}

/**
 * The bucket of an account name as typed (case-insensitive). Long names are hashed, so that the
 * memory a key takes is bounded too.
 */
export function accountBucket(account: string): string {
  const key = String(account).normalize("NFKC").toLowerCase();
  return key.length <= 64 ? `acct:${key}` : `acct#${createHash("sha256").update(key, "utf8").digest("base64url")}`;
}

export interface SignInLimitsOptions {
  /** Sign-in attempts per client address (default 60 a minute). */
  perIp?: RateLimit | undefined;
  /** Failed attempts of any kind per client address (default 30 in 15 minutes). */
  perIpFailures?: RateLimit | undefined;
  /** Sign-in attempts per account, from anywhere (default 30 in 15 minutes). */
  perAccount?: RateLimit | undefined;
  maxKeys?: number | undefined;
  now?: () => number;
}

export type LimitDecision = { ok: true } | { ok: false; retryAfter: number; limitedBy: "ip" | "ip_failures" | "account" };

export const DEFAULT_SIGN_IN_LIMITS = {
  perIp: { limit: 60, windowMs: 60_000 },
  perIpFailures: { limit: 30, windowMs: 15 * 60_000 },
  perAccount: { limit: 30, windowMs: 15 * 60_000 },
} as const satisfies Record<string, RateLimit>;

/**
 * The sign-in limits together. Call `attempt` before handling a sign-in step (it counts the
 * attempt), and `recordFailure` after a failure of any kind (`Lockout` does so when given this as
 * its `ipLimiter`). A refused attempt counts nothing: an address that is already limited does not
 * also use up the account's allowance, which belongs to the real user as much as to an attacker.
 */
export class SignInLimits {
  private readonly ip: KeyedLimiter;
  private readonly ipFailures: KeyedLimiter;
  private readonly account: KeyedLimiter;

  constructor(opts: SignInLimitsOptions = {}) {
    const common = { maxKeys: opts.maxKeys, ...(opts.now ? { now: opts.now } : {}) };
    this.ip = new KeyedLimiter(opts.perIp ?? DEFAULT_SIGN_IN_LIMITS.perIp, common);
    this.ipFailures = new KeyedLimiter(opts.perIpFailures ?? DEFAULT_SIGN_IN_LIMITS.perIpFailures, common);
    this.account = new KeyedLimiter(opts.perAccount ?? DEFAULT_SIGN_IN_LIMITS.perAccount, common);
  }

  /** Counts one attempt from `ip` (for `account`, when known), or says how long to wait. */
  attempt(input: { ip: string; account?: string | undefined }): LimitDecision {
    const ip = ipBucket(input.ip);
    const acct = input.account === undefined ? undefined : accountBucket(input.account);
    const waits: Array<[number, "ip" | "ip_failures" | "account"]> = [
      [this.ip.peek(ip), "ip"],
      [this.ipFailures.peek(ip), "ip_failures"],
      [acct === undefined ? 0 : this.account.peek(acct), "account"],
    ];
    const worst = waits.reduce((a, b) => (b[0] > a[0] ? b : a));
    if (worst[0] > 0) return { ok: false, retryAfter: worst[0], limitedBy: worst[1] };
    this.ip.take(ip);
    if (acct !== undefined) this.account.take(acct);
    return { ok: true };
  }

  /** As `attempt`, throwing `rate_limited` (with `retryAfter`, for the Retry-After header) when refused. */
  enforce(input: { ip: string; account?: string | undefined }): void {
    const d = this.attempt(input);
    if (!d.ok) {
      const what = d.limitedBy === "account" ? "this account" : "this address";
      throw Object.assign(new TenetError("rate_limited", `too many sign-in attempts for ${what}; retry after ${d.retryAfter} s`), { retryAfter: d.retryAfter });
    }
  }

  /** A failed attempt of any kind from `ip`. */
  recordFailure(ip: string): void {
    this.ipFailures.take(ipBucket(ip));
  }

  /** Keys remembered, per limit (for metrics and tests). */
  get sizes(): { ip: number; ipFailures: number; account: number } {
    return { ip: this.ip.size, ipFailures: this.ipFailures.size, account: this.account.size };
  }
}

function checkLimit(r: RateLimit, what: string): void {
  if (typeof r !== "object" || r === null || !Number.isSafeInteger(r.limit) || r.limit < 1 || !Number.isFinite(r.windowMs) || r.windowMs < 1) {
    throw new TenetError("validation_error", `${what} must have a whole, positive limit and a positive windowMs`);
  }
}
