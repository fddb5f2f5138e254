/**
 * What the sign-in, invitation and account pages share: the identity plane, the guard, CSRF,
 * page rendering helpers, rate limiting and how passkey failures are recorded.
 */
import type { FastifyReply, FastifyRequest } from "fastify";
import { TenetError } from "../../errors.js";
import type { IdentityPlane } from "../../identity/idp.js";
import { PasskeyError } from "../../identity/passkeys/passkeys.js";
import type { FailureKind, SignInGuard } from "./guard.js";
import { type Csrf, clientIp, securityHeaders } from "./security.js";

export interface SecondFactors {
  totp?:
    | {
        isEnrolled(userId: string): Promise<boolean>;
        verify(userId: string, code: string): Promise<boolean>;
        beginEnrollment(userId: string, label: string): Promise<{ secret: string; otpauthUri: string }>;
        confirmEnrollment(userId: string, code: string): Promise<boolean>;
        remove(userId: string): Promise<boolean>;
      }
    | undefined;
  recovery?: { consume(userId: string, code: string): Promise<boolean>; generate(userId: string): Promise<string[]>; remaining(userId: string): Promise<number> } | undefined;
}

export interface FederationButtons {
  providers(): Array<{ id: string; name: string }>;
}

export interface DevicePages {
  listByUser(userId: string): Promise<Array<{ id: string; name: string; compliant: boolean; reasons: string[] }>>;
  remove(userId: string, deviceId: string): Promise<boolean>;
}

export interface SignInRoutesOptions {
  idp: IdentityPlane;
  guard: SignInGuard;
  factors?: SecondFactors;
  federation?: FederationButtons | undefined;
  devices?: DevicePages | undefined;
}

/** Changing one's factors needs a sign-in this recent (a stolen session cookie alone cannot). */
export const FRESH_SIGN_IN_S = 15 * 60;

export interface SignInContext extends SignInRoutesOptions {
  csrf: Csrf;
  /** Tenet is served over https (cookies are Secure). */
  secure: boolean;
  throttle(req: FastifyRequest, userId?: string): void;
  recordPasskeyFailure(req: FastifyRequest, err: unknown, userId?: string): Promise<void>;
}

export function html(reply: FastifyReply, body: string, status = 200, opts: { anyFormTarget?: boolean } = {}): FastifyReply {
  return securityHeaders(reply, opts).code(status).type("text/html; charset=utf-8").send(body);
}

export function signInContext(o: SignInRoutesOptions, csrf: Csrf, secure: boolean): SignInContext {
  const { guard } = o;
  return {
    ...o,
    csrf,
    secure,
    throttle(req: FastifyRequest, userId?: string) {
      const wait = guard.limit(clientIp(req), userId);
      if (wait > 0) throw Object.assign(new TenetError("rate_limited", `Too many attempts. Try again in ${wait} seconds.`), { retryAfter: wait });
    },
    async recordPasskeyFailure(req: FastifyRequest, err: unknown, userId?: string) {
      if (!(err instanceof PasskeyError)) return;
      const kind: FailureKind = err.kind === "bad_signature" || err.kind === "counter" ? "credential" : err.kind === "unknown_credential" ? "unknown_credential" : err.kind === "replay" || err.kind === "expired" ? "replay" : "malformed";
      await guard.failure({ ip: clientIp(req), userId, kind, reason: err.message, userAgent: req.headers["user-agent"] });
    },
  };
}
