/**
 * What every sign-in page and endpoint shares: security headers, CSRF tokens, the caller's IP and
 * the form parser.
 *
 * CSRF: every state-changing request carries a token derived (HMAC) from a server key and the
 * interaction or session it acts on, in a form field or the `x-csrf-token` header, and — when the
 * browser sends one — an `Origin` equal to Tenet's own. The provider's interaction cookie is
 * SameSite=Lax as well, so a cross-site POST arrives without it; the token is the second lock.
 */
import { createHmac, timingSafeEqual } from "node:crypto";
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { TenetError } from "../../errors.js";
import { contentSecurityPolicy } from "../../identity/web/html.js";

export function securityHeaders(reply: FastifyReply, opts: { anyFormTarget?: boolean } = {}): FastifyReply {
  return reply
    .header("content-security-policy", contentSecurityPolicy(opts))
    .header("x-frame-options", "DENY")
    .header("x-content-type-options", "nosniff")
    .header("referrer-policy", "no-referrer")
    .header("cache-control", "no-store")
    .header("cross-origin-opener-policy", "same-origin");
}

export class Csrf {
  constructor(
    private readonly key: string,
    private readonly origin: string,
  ) {}

  token(binding: string): string {
    return createHmac("sha256", this.key).update(`tenet/csrf/v1\0${binding}`).digest("base64url");
  }

  /** Throws `forbidden` unless the request carries the token for `binding` and a same-origin Origin. */
  check(req: FastifyRequest, binding: string): void {
    const origin = req.headers.origin;
    if (origin !== undefined && origin !== this.origin) throw new TenetError("forbidden", "cross-site request refused");
    const body = req.body as Record<string, unknown> | undefined;
    const sent = (req.headers["x-csrf-token"] as string | undefined) ?? (typeof body?.csrf === "string" ? body.csrf : undefined);
    const want = Buffer.from(this.token(binding));
    const got = Buffer.from(sent ?? "");
    if (got.length !== want.length || !timingSafeEqual(got, want)) throw new TenetError("forbidden", "missing or invalid CSRF token; reload the page");
  }
}

/** The client's address as the socket (or, behind a trusted proxy, Fastify's trustProxy) says. */
export function clientIp(req: FastifyRequest): string {
  return req.ip;
}

/** Form posts (application/x-www-form-urlencoded), small, into a flat object of strings. */
export function formParser(app: FastifyInstance): void {
  app.addContentTypeParser("application/x-www-form-urlencoded", { parseAs: "string", bodyLimit: 16 * 1024 }, (_req, body, done) => {
    const out: Record<string, string> = Object.create(null);
    for (const [k, v] of new URLSearchParams(body as string)) if (!(k in out)) out[k] = v;
    done(null, out);
  });
}
