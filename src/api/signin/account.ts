/**
 * The account page: a person's passkeys, authenticator app, recovery codes, sessions and devices.
 * It signs in through the provider like any application (its own public client), and reads the
 * provider's session cookie; changing factors needs a recent sign-in.
 */
import { randomBytes } from "node:crypto";
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { TenetError } from "../../errors.js";
import type { IdentityPlane } from "../../identity/idp.js";
import { FRESH_SIGN_IN_S, html, type SignInContext } from "./context.js";
import { accountPage, messagePage, recoveryCodesPage, totpSetupPage } from "./pages.js";
import { clientIp, securityHeaders } from "./security.js";

export function registerAccountRoutes(scope: FastifyInstance, c: SignInContext): void {
  const { idp, guard, csrf, secure } = c;
  // ---- the account page (signed in with the provider's own session) ----

  const accountSession = async (req: FastifyRequest, reply: FastifyReply) => {
    const session = await idp.provider.Session.get({ req: req.raw, res: reply.raw, secure } as never);
    const userId = session?.accountId;
    const user = userId ? await idp.directory.getUser(userId) : undefined;
    if (!user || user.status !== "active" || !session.uid) return undefined;
    return { user, uid: session.uid, fresh: session.loginTs !== undefined && Date.now() / 1000 - session.loginTs < FRESH_SIGN_IN_S };
  };

  scope.get<{ Querystring: { notice?: string } }>("/account", async (req, reply) => {
    const s = await accountSession(req, reply);
    if (!s) return reply.redirect(`/account/signin`, 303);
    return html(
      reply,
      accountPage({
        csrf: csrf.token(`account:${s.uid}`),
        username: s.user.username,
        passkeys: await idp.passkeys.list(s.user.id),
        sessions: await idp.sessions.list(s.user.id),
        currentSession: s.uid,
        devices: c.devices ? await c.devices.listByUser(s.user.id) : [],
        totp: c.factors?.totp ? await c.factors.totp.isEnrolled(s.user.id) : undefined,
        recoveryCodesLeft: c.factors?.recovery ? await c.factors.recovery.remaining(s.user.id) : undefined,
        notice: typeof req.query.notice === "string" ? req.query.notice.slice(0, 200) : undefined,
      }),
    );
  });

  // The account page signs in like any application: through the provider, as its own client.
  scope.get<{ Querystring: { fresh?: string } }>("/account/signin", async (req, reply) => reply.redirect(`${idp.issuer}/auth?${accountAuthParams(idp, req.query.fresh === "1")}`, 303));
  scope.get<{ Querystring: Record<string, string> }>("/account/callback", async (req, reply) => {
    if (req.query.error) return html(reply, messagePage("Not signed in", `${req.query.error}: ${req.query.error_description ?? ""}`), 400);
    return reply.redirect("/account", 303);
  });

  scope.post("/account/passkey/register-options", async (req, reply) => {
    const s = await accountSession(req, reply);
    if (!s) throw new TenetError("unauthenticated", "Sign in first.");
    csrf.check(req, `account:${s.uid}`);
    return securityHeaders(reply).send(await idp.passkeys.registrationOptions(s.user));
  });
  scope.post<{ Body: { handle?: unknown; response?: unknown; name?: unknown } }>("/account/passkey/register", async (req, reply) => {
    const s = await accountSession(req, reply);
    if (!s) throw new TenetError("unauthenticated", "Sign in first.");
    csrf.check(req, `account:${s.uid}`);
    await idp.passkeys.verifyRegistration(String(req.body?.handle ?? ""), s.user.id, req.body?.response, typeof req.body?.name === "string" ? req.body.name : undefined);
    await guard.factorChange(s.user.id, "passkey added", clientIp(req));
    return securityHeaders(reply).send({ redirect: "/account?notice=Passkey%20added" });
  });
  scope.post<{ Params: { id: string } }>("/account/passkeys/:id/remove", async (req, reply) => {
    const s = await accountSession(req, reply);
    if (!s) return reply.redirect("/account/signin", 303);
    csrf.check(req, `account:${s.uid}`);
    const mine = await idp.passkeys.list(s.user.id);
    if (mine.length <= 1 && mine.some((p) => p.id === req.params.id)) return reply.redirect("/account?notice=Add%20another%20passkey%20before%20removing%20your%20last%20one", 303);
    if (await idp.passkeys.remove(s.user.id, req.params.id)) await guard.factorChange(s.user.id, "passkey removed", clientIp(req));
    return reply.redirect("/account?notice=Passkey%20removed", 303);
  });
  scope.post<{ Params: { uid: string } }>("/account/sessions/:uid/revoke", async (req, reply) => {
    const s = await accountSession(req, reply);
    if (!s) return reply.redirect("/account/signin", 303);
    csrf.check(req, `account:${s.uid}`);
    await idp.sessions.revoke(req.params.uid, "signed out from the account page", { userId: s.user.id, initiator: "user" });
    return reply.redirect(req.params.uid === s.uid ? "/account" : "/account?notice=Session%20ended", 303);
  });
  // Second factors, managed by the user (a recent sign-in required).
  const freshSession = async (req: FastifyRequest, reply: FastifyReply) => {
    const s = await accountSession(req, reply);
    if (!s) return { redirect: "/account/signin" } as const;
    csrf.check(req, `account:${s.uid}`);
    if (!s.fresh) return { redirect: "/account/signin?fresh=1" } as const;
    return { s } as const;
  };
  if (c.factors?.totp) {
    const totp = c.factors.totp;
    scope.post("/account/totp/begin", async (req, reply) => {
      const f = await freshSession(req, reply);
      if ("redirect" in f) return reply.redirect(f.redirect, 303);
      const e = await totp.beginEnrollment(f.s.user.id, f.s.user.username);
      return html(reply, totpSetupPage({ csrf: csrf.token(`account:${f.s.uid}`), secret: e.secret, uri: e.otpauthUri }));
    });
    scope.post<{ Body: Record<string, string> }>("/account/totp/confirm", async (req, reply) => {
      const f = await freshSession(req, reply);
      if ("redirect" in f) return reply.redirect(f.redirect, 303);
      if (!(await totp.confirmEnrollment(f.s.user.id, String(req.body?.code ?? "").trim()))) return reply.redirect("/account?notice=That%20code%20did%20not%20match%3B%20start%20again", 303);
      await guard.factorChange(f.s.user.id, "authenticator app added", clientIp(req));
      return reply.redirect("/account?notice=Authenticator%20app%20added", 303);
    });
    scope.post("/account/totp/remove", async (req, reply) => {
      const f = await freshSession(req, reply);
      if ("redirect" in f) return reply.redirect(f.redirect, 303);
      if (await totp.remove(f.s.user.id)) await guard.factorChange(f.s.user.id, "authenticator app removed", clientIp(req));
      return reply.redirect("/account?notice=Authenticator%20app%20removed", 303);
    });
  }
  if (c.factors?.recovery) {
    const recovery = c.factors.recovery;
    scope.post("/account/recovery-codes", async (req, reply) => {
      const f = await freshSession(req, reply);
      if ("redirect" in f) return reply.redirect(f.redirect, 303);
      const codes = await recovery.generate(f.s.user.id);
      await guard.factorChange(f.s.user.id, "recovery codes generated", clientIp(req));
      return html(reply, recoveryCodesPage(codes));
    });
  }

  if (c.devices) {
    const devices = c.devices;
    scope.post<{ Params: { id: string } }>("/account/devices/:id/remove", async (req, reply) => {
      const s = await accountSession(req, reply);
      if (!s) return reply.redirect("/account/signin", 303);
      csrf.check(req, `account:${s.uid}`);
      await devices.remove(s.user.id, req.params.id);
      return reply.redirect("/account?notice=Device%20removed", 303);
    });
  }
}

/** The account page's own authorization request (a public client with PKCE like any other). */
function accountAuthParams(idp: IdentityPlane, fresh: boolean): string {
  // The account page needs only the provider's session cookie, never tokens: its code is not
  // exchanged, and a random challenge (whose verifier nobody knows) makes it unexchangeable.
  const p = new URLSearchParams({ client_id: ACCOUNT_CLIENT_ID, response_type: "code", scope: "openid", redirect_uri: `${idp.publicUrl}/account/callback`, code_challenge: randomBytes(32).toString("base64url"), code_challenge_method: "S256" });
  if (fresh) p.set("max_age", "0");
  return p.toString();
}

export const ACCOUNT_CLIENT_ID = "tenet-account";
