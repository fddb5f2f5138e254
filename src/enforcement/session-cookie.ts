/**
 * The proxy's session cookie: what the proxy remembers of a sign-in between requests, sealed
 * (AES-256-GCM under a key derived from the master key, purpose-bound so a box made for anything
 * else does not open here) so the browser can neither read nor change it, and bound to the
 * identity provider's session: the cookie names the session and the access token, and every
 * request asks whether they still live, so revoking the session ends the cookie at once.
 *
 * The cookie is `__Host-` prefixed over https (Secure, Path=/, no Domain: one host only),
 * HttpOnly, SameSite=Lax (the sign-in redirect back from the provider must carry it).
 */
import type { MasterKey } from "../crypto/master-key.js";
import type { SignInClaims } from "./proxy/signin.js";
import { TtlCache } from "../util/ttl-cache.js";

const PURPOSE = "tenet/proxy-session/v1";
/** Cookies larger than this are refused unread (browsers cap a cookie at 4 KiB). */
const MAX_COOKIE_CHARS = 4096;

export interface ProxySession {
  /** The identity provider's access token (checked on every request). */
  accessToken: string;
  userId: string;
  /** The provider's session id (uid). */
  sessionId?: string | undefined;
  /** Seconds since the epoch: the cookie is refused after this, whatever the token says. */
  expiresAt: number;
  /** The host the cookie was made for: a cookie replayed on another route's host is refused. */
  host: string;
  /**
   * What the ID token said of the sign-in: used by a proxy running apart from the identity
   * provider, which learns only whether the token is still active (introspection).
   */
  claims?: SignInClaims | undefined;
}

export class SessionCookies {
  readonly name: string;
  // Opening the box costs an AES-GCM decryption and two JSON parses on every request; a value
  // that opened once (the box authenticates it) is remembered for a minute. Host and expiry are
  // still checked on every read.
  private readonly opened: TtlCache<string, ProxySession>;

  constructor(
    private readonly master: MasterKey,
    private readonly opts: { secure: boolean; now?: () => number },
  ) {
    this.name = opts.secure ? "__Host-tenet_proxy" : "tenet_proxy";
    this.opened = new TtlCache(10_000, opts.now);
  }

  /** The Set-Cookie header value for a new session. */
  issue(s: ProxySession): string {
    const box = this.master.seal(PURPOSE, Buffer.from(JSON.stringify(s)));
    const value = Buffer.from(JSON.stringify(box)).toString("base64url");
    const maxAge = Math.max(0, Math.floor(s.expiresAt - this.nowS()));
    return `${this.name}=${value}; Path=/; HttpOnly; SameSite=Lax; Max-Age=${maxAge}${this.opts.secure ? "; Secure" : ""}`;
  }

  /** A Set-Cookie header value that removes the cookie. */
  clear(): string {
    return `${this.name}=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0${this.opts.secure ? "; Secure" : ""}`;
  }

  /**
   * The session in a Cookie header, for `host`; undefined when there is none, or it was forged,
   * altered, made for another host or expired. Never throws on what the client sent.
   */
  read(cookieHeader: string | undefined, host: string): ProxySession | undefined {
    if (!cookieHeader || cookieHeader.length > 16 * 1024) return undefined;
    let value: string | undefined;
    for (const part of cookieHeader.split(";")) {
      const eq = part.indexOf("=");
      if (eq > 0 && part.slice(0, eq).trim() === this.name) {
        // Two cookies of the same name (a sibling domain planting one): refuse both.
        if (value !== undefined) return undefined;
        value = part.slice(eq + 1).trim();
      }
    }
    if (!value || value.length > MAX_COOKIE_CHARS || !/^[A-Za-z0-9_-]+$/.test(value)) return undefined;
    const s = this.opened.get(value) ?? this.open(value);
    if (!s || s.host !== host || s.expiresAt <= this.nowS()) return undefined;
    return s;
  }

  private open(value: string): ProxySession | undefined {
    let s: ProxySession;
    try {
      s = JSON.parse(this.master.open(PURPOSE, JSON.parse(Buffer.from(value, "base64url").toString("utf8"))).toString("utf8")) as ProxySession;
    } catch {
      return undefined;
    }
    if (typeof s !== "object" || s === null || typeof s.accessToken !== "string" || typeof s.userId !== "string" || typeof s.expiresAt !== "number" || typeof s.host !== "string") return undefined;
    if (s.claims !== undefined && (typeof s.claims !== "object" || s.claims === null)) return undefined;
    this.opened.set(value, s, Math.min(s.expiresAt * 1000, this.nowS() * 1000 + 60_000));
    return s;
  }

  private nowS(): number {
    return (this.opts.now ?? Date.now)() / 1000;
  }
}
