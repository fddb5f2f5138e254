/**
 * The sign-in pages: the provider's login interaction (passkey, step-up with a passkey or TOTP,
 * recovery codes, federated sign-in), invitations (register a first passkey, no password ever),
 * and the account page (passkeys, sessions, devices). Registered on Fastify beside the API; the
 * provider itself is mounted at /oidc before Fastify (src/identity/idp.ts).
 *
 * Every outcome goes through the SignInGuard (rate limits, lockout, audit, risk history) before
 * the interaction is finished: a sign-in that cannot be recorded does not happen.
 */
import { randomBytes } from "node:crypto";
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { TenetError, isTenetError } from "../../errors.js";
import { acrLevel, assurance, normaliseAcr, type Factors } from "../../identity/acr.js";
import type { IdentityPlane } from "../../identity/idp.js";
import { PasskeyError } from "../../identity/passkeys/passkeys.js";
import { requestedAcrs } from "../../identity/oidc/provider.js";
import { CSS, WEBAUTHN_JS } from "./assets.js";
import type { FailureKind, SignInGuard } from "./guard.js";
import { accountPage, invitePage, messagePage, recoveryCodesPage, signInPage, totpSetupPage } from "./pages.js";
import { Csrf, clientIp, formParser, securityHeaders } from "./security.js";

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

/** Changing one's factors needs a sign-in this recent (a stolen session cookie alone cannot). */
const FRESH_SIGN_IN_S = 15 * 60;

export interface FederationButtons {
  providers(): Array<{ id: string; name: string }>;
}

/** The federation routes' callback result, handed to the interaction with a one-time ticket. */
export async function federationTicket(idp: IdentityPlane, result: { userId: string; providerId: string; returnTo?: string | undefined; factors: Pick<Factors, "upstream"> }): Promise<string> {
  const m = /^\/signin\/([A-Za-z0-9_-]{10,64})$/.exec(result.returnTo ?? "");
  if (!m) return "/account";
  const t = await idp.invitations.create(result.userId, `federation:${result.providerId}:${JSON.stringify(result.factors.upstream ?? { trusted: false })}`, 120_000);
  return `/signin/${m[1]}/federated?t=${t.token}`;
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

const UID = /^[A-Za-z0-9_-]{10,64}$/;

type Details = Awaited<ReturnType<IdentityPlane["provider"]["interactionDetails"]>>;

function html(reply: FastifyReply, body: string, status = 200, opts: { anyFormTarget?: boolean } = {}): FastifyReply {
  return securityHeaders(reply, opts).code(status).type("text/html; charset=utf-8").send(body);
}

/** Why the step-up page is shown, in words. */
function stepUpReason(wanted: string[], maxAge: boolean): string {
  const level = Math.min(...wanted.map(acrLevel).filter((l) => l >= 0));
  if (level === 3) return "a hardware security key is required";
  if (level === 2) return "a passkey is required";
  if (level === 1) return "a second factor is required";
  return maxAge ? "your last sign-in is too old" : "please sign in again";
}

export function registerSignInRoutes(app: FastifyInstance, o: SignInRoutesOptions): void {
  const { idp, guard } = o;
  const origin = new URL(idp.publicUrl).origin;
  const csrf = new Csrf(idp.cookieKeys[0]!, origin);
  const secure = origin.startsWith("https:");

  app.register(async (scope) => {
    formParser(scope);
    scope.setErrorHandler((err, req, reply) => {
      const status = isTenetError(err) ? err.status : (err as { statusCode?: number }).statusCode ?? 500;
      if (status >= 500) req.log.error({ err }, "sign-in page failed");
      const message = status >= 500 ? "Something went wrong. Try again." : (err as Error).message;
      if (req.headers["content-type"]?.startsWith("application/json") || req.headers.accept === "application/json") {
        securityHeaders(reply).code(status).send({ code: isTenetError(err) ? err.code : status === 400 ? "bad_request" : "internal_error", message });
        return;
      }
      html(reply, messagePage("Sign-in problem", message), status);
    });

    scope.get("/signin/assets/tenet.css", (_req, reply) => reply.header("cache-control", "public, max-age=3600").header("x-content-type-options", "nosniff").type("text/css; charset=utf-8").send(CSS));
    scope.get("/signin/assets/webauthn.js", (_req, reply) => reply.header("cache-control", "public, max-age=3600").header("x-content-type-options", "nosniff").type("text/javascript; charset=utf-8").send(WEBAUTHN_JS));

    // ---- the provider's login interaction ----

    const details = async (req: FastifyRequest, uid: string): Promise<Details> => {
      if (!UID.test(uid)) throw new TenetError("not_found", "This sign-in link is not valid. Go back to the application and start again.");
      let d: Details;
      try {
        d = await idp.provider.interactionDetails(req.raw, (req as FastifyRequest & { reply?: FastifyReply }).raw as never);
      } catch {
        throw new TenetError("validation_error", "This sign-in expired or was opened in another browser. Go back to the application and start again.");
      }
      if (d.uid !== uid) throw new TenetError("validation_error", "This sign-in belongs to another window. Go back to the application and start again.");
      return d;
    };
    const interactionDetails = (req: FastifyRequest, reply: FastifyReply, uid: string): Promise<Details> => {
      if (!UID.test(uid)) return Promise.reject(new TenetError("not_found", "This sign-in link is not valid. Go back to the application and start again."));
      return idp.provider.interactionDetails(req.raw, reply.raw).then(
        (d) => {
          if (d.uid !== uid) throw new TenetError("validation_error", "This sign-in belongs to another window. Go back to the application and start again.");
          return d;
        },
        () => {
          throw new TenetError("validation_error", "This sign-in expired or was opened in another browser. Go back to the application and start again.");
        },
      );
    };
    void details;

    /** What the interaction asks for: the acr levels and whether only re-authentication is missing. */
    const wantedOf = async (d: Details) => {
      const client = await idp.provider.Client.find(String(d.params.client_id));
      const ctxLike = { oidc: { params: d.params, client } } as never;
      const wanted = requestedAcrs(ctxLike).filter((w) => normaliseAcr(w) !== undefined);
      return { wanted, clientName: client?.clientName ?? String(d.params.client_id), maxAge: d.prompt.reasons.includes("max_age") };
    };

    const stepUpUser = async (d: Details) => {
      const id = d.session?.accountId;
      if (!id || d.prompt.name !== "login") return undefined;
      const reasons = d.prompt.reasons;
      if (!reasons.includes("acr_values_unmet") && !reasons.includes("max_age") && !reasons.includes("login_prompt")) return undefined;
      const user = await idp.directory.getUser(id);
      return user && user.status === "active" ? user : undefined;
    };

    const view = async (d: Details, error?: string) => {
      const { wanted, clientName, maxAge } = await wantedOf(d);
      const user = await stepUpUser(d);
      const level = wanted.length > 0 ? Math.min(...wanted.map(acrLevel)) : 0;
      const totp = user && level <= 1 && (d.session?.amr?.length ?? 0) > 0 && o.factors?.totp ? await o.factors.totp.isEnrolled(user.id) : false;
      return signInPage({
        base: `/signin/${d.uid}`,
        csrf: csrf.token(`interaction:${d.uid}`),
        clientName,
        stepUp: user ? { username: user.username, why: stepUpReason(wanted, maxAge), totp, hardwareOnly: level === 3 } : undefined,
        federation: user ? [] : (o.federation?.providers() ?? []),
        error,
      });
    };

    scope.get<{ Params: { uid: string } }>("/signin/:uid", async (req, reply) => {
      const d = await interactionDetails(req, reply, req.params.uid);
      if (d.prompt.name === "consent") {
        // Consent is implied for registered clients (the provider's loadExistingGrant); a consent
        // prompt still reaching here means new claims or scopes: grant them the same way.
        const grant = d.grantId ? await idp.provider.Grant.find(d.grantId) : new idp.provider.Grant({ accountId: d.session!.accountId, clientId: String(d.params.client_id) });
        const details = d.prompt.details as { missingOIDCScope?: string[]; missingOIDCClaims?: string[] };
        if (details.missingOIDCScope) grant!.addOIDCScope(details.missingOIDCScope.join(" "));
        if (details.missingOIDCClaims) grant!.addOIDCClaims(details.missingOIDCClaims);
        const grantId = await grant!.save();
        const to = await idp.provider.interactionResult(req.raw, reply.raw, { consent: { grantId } }, { mergeWithLastSubmission: true });
        return reply.redirect(to, 303);
      }
      return html(reply, await view(d));
    });

    /** Finishes the login: checks, records, remembers the sign-in's facts, redirects. */
    const finish = async (req: FastifyRequest, reply: FastifyReply, d: Details, userId: string, factors: Factors, method: string, credentialId?: string): Promise<string> => {
      const ip = clientIp(req);
      const ua = req.headers["user-agent"];
      const user = await idp.directory.getUser(userId);
      if (!user || user.status === "suspended") {
        await guard.failure({ ip, userId, kind: "suspended", reason: "account suspended", userAgent: ua });
        throw new TenetError("forbidden", "This account is suspended. Contact your administrator.");
      }
      const until = await guard.locked(userId);
      if (until) throw new TenetError("forbidden", `This account is locked until ${until.toISOString().slice(0, 16).replace("T", " ")} UTC after too many failed sign-ins.`);
      if (user.status === "invited") await idp.directory.activate(userId);
      const assured = assurance(factors);
      const amr = assured.amr;
      let acr = assured.acr;
      // A step-up keeps what the session already proved (the provider's own record of it).
      if (d.session?.accountId === userId && d.session.acr && acrLevel(d.session.acr) > acrLevel(acr)) acr = normaliseAcr(d.session.acr) ?? acr;
      const { wanted } = await wantedOf(d);
      if (wanted.length > 0 && !wanted.some((w) => acrLevel(acr) >= acrLevel(w))) {
        await guard.failure({ ip, userId, kind: "credential", reason: `${method} does not reach the requested level`, userAgent: ua });
        throw new TenetError("forbidden", `${method === "passkey" ? "This passkey" : "This sign-in"} is not strong enough for ${wanted.map((w) => (acrLevel(w) === 3 ? "a hardware security key" : acrLevel(w) === 2 ? "a passkey" : "two factors")).join(" or ")}.`);
      }
      await guard.success({ ip, userId, acr, amr, method, userAgent: ua });
      idp.sessions.noteSignIn(userId, { credentialId, ip, userAgent: ua });
      return idp.provider.interactionResult(req.raw, reply.raw, { login: { accountId: userId, acr, amr, remember: true, ts: Math.floor(Date.now() / 1000) } }, { mergeWithLastSubmission: false });
    };

    const throttle = (req: FastifyRequest, userId?: string) => {
      const wait = guard.limit(clientIp(req), userId);
      if (wait > 0) throw Object.assign(new TenetError("rate_limited", `Too many attempts. Try again in ${wait} seconds.`), { retryAfter: wait });
    };

    const recordPasskeyFailure = async (req: FastifyRequest, err: unknown, userId?: string) => {
      if (!(err instanceof PasskeyError)) return;
      const kind: FailureKind = err.kind === "bad_signature" || err.kind === "counter" ? "credential" : err.kind === "unknown_credential" ? "unknown_credential" : err.kind === "replay" || err.kind === "expired" ? "replay" : "malformed";
      await guard.failure({ ip: clientIp(req), userId, kind, reason: err.message, userAgent: req.headers["user-agent"] });
    };

    scope.post<{ Params: { uid: string } }>("/signin/:uid/passkey/options", async (req, reply) => {
      const d = await interactionDetails(req, reply, req.params.uid);
      csrf.check(req, `interaction:${d.uid}`);
      throttle(req);
      const user = await stepUpUser(d);
      const { wanted } = await wantedOf(d);
      const hardwareOnly = wanted.length > 0 && Math.min(...wanted.map(acrLevel)) === 3;
      const r = await idp.passkeys.authenticationOptions(user ? { userId: user.id, hardwareOnly } : {});
      return securityHeaders(reply).send(r);
    });

    scope.post<{ Params: { uid: string }; Body: { handle?: unknown; response?: unknown } }>("/signin/:uid/passkey/verify", async (req, reply) => {
      const d = await interactionDetails(req, reply, req.params.uid);
      csrf.check(req, `interaction:${d.uid}`);
      throttle(req);
      let verified;
      try {
        verified = await idp.passkeys.verifyAuthentication(req.body?.handle as string, req.body?.response);
      } catch (err) {
        const owner = err instanceof PasskeyError && err.kind === "bad_signature" ? (await idp.passkeys.get(String((req.body?.response as { id?: unknown })?.id ?? "")))?.userId : undefined;
        await recordPasskeyFailure(req, err, owner);
        throw err;
      }
      const redirect = await finish(req, reply, d, verified.userId, { passkey: { hardware: verified.passkey.hardware } }, "passkey", verified.passkey.id);
      return securityHeaders(reply).send({ redirect });
    });

    scope.post<{ Params: { uid: string }; Body: Record<string, string> }>("/signin/:uid/totp", async (req, reply) => {
      const d = await interactionDetails(req, reply, req.params.uid);
      csrf.check(req, `interaction:${d.uid}`);
      const user = await stepUpUser(d);
      if (!user || !o.factors?.totp) throw new TenetError("validation_error", "An authenticator app code is only a second step; sign in first.");
      throttle(req, user.id);
      const code = String(req.body?.code ?? "").trim();
      if (!(await o.factors.totp.verify(user.id, code))) {
        await guard.failure({ ip: clientIp(req), userId: user.id, kind: /^\d{6}$/.test(code) ? "credential" : "malformed", reason: "wrong authenticator code", userAgent: req.headers["user-agent"] });
        return html(reply, await view(d, "That code is not right (or was already used). Try the next one."), 400);
      }
      const to = await finish(req, reply, d, user.id, { upstream: { acr: d.session?.acr, amr: d.session?.amr, trusted: true }, totp: true }, "totp");
      return reply.redirect(to, 303);
    });

    scope.post<{ Params: { uid: string }; Body: Record<string, string> }>("/signin/:uid/recovery", async (req, reply) => {
      const d = await interactionDetails(req, reply, req.params.uid);
      csrf.check(req, `interaction:${d.uid}`);
      const user = await idp.directory.findByUsername(String(req.body?.username ?? ""));
      throttle(req, user?.id);
      const code = String(req.body?.code ?? "");
      if (!user || !o.factors?.recovery || !(await o.factors.recovery.consume(user.id, code))) {
        await guard.failure({ ip: clientIp(req), userId: user?.id, kind: user ? "credential" : "unknown_credential", reason: "wrong recovery code", userAgent: req.headers["user-agent"] });
        return html(reply, await view(d, "That username and recovery code do not match."), 400);
      }
      const to = await finish(req, reply, d, user.id, { recoveryCode: true }, "recovery_code");
      await guard.factorChange(user.id, "recovery code used", clientIp(req));
      return reply.redirect(to, 303);
    });

    scope.get<{ Params: { uid: string } }>("/signin/:uid/abort", async (req, reply) => {
      await interactionDetails(req, reply, req.params.uid);
      const to = await idp.provider.interactionResult(req.raw, reply.raw, { error: "access_denied", error_description: "the user cancelled the sign-in" }, { mergeWithLastSubmission: false });
      return reply.redirect(to, 303);
    });

    // ---- federated sign-in ----
    // The upstream's callback (federation routes) cannot see the interaction cookie, which is
    // scoped to /signin/<uid>: it hands the result over with a one-time ticket, and the browser
    // brings the ticket here, where the interaction is finished.
    scope.get<{ Params: { uid: string }; Querystring: { t?: string } }>("/signin/:uid/federated", async (req, reply) => {
      const d = await interactionDetails(req, reply, req.params.uid);
      const ticket = await idp.invitations.redeem(String(req.query.t ?? "")).catch(() => undefined);
      const m = ticket ? /^federation:([^:]+):(.*)$/.exec(ticket.createdBy) : null;
      if (!ticket || !m) throw new TenetError("validation_error", "This sign-in expired; start again from the application.");
      const upstream = JSON.parse(m[2]!) as NonNullable<Factors["upstream"]>;
      const to = await finish(req, reply, d, ticket.userId, { upstream }, `federation:${m[1]}`);
      return reply.redirect(to, 303);
    });

    // ---- invitations: register a first passkey ----

    scope.get<{ Params: { token: string } }>("/invite/:token", async (req, reply) => {
      const inv = await idp.invitations.peek(req.params.token);
      if (!inv || inv.createdBy.startsWith("federation:")) return html(reply, messagePage("Invitation not valid", "This invitation link is invalid, expired or already used. Ask your administrator for a new one."), 404);
      const user = await idp.directory.getUser(inv.userId);
      if (!user || user.status === "suspended") return html(reply, messagePage("Invitation not valid", "This account cannot be set up. Ask your administrator."), 403);
      return html(reply, invitePage({ base: `/invite/${req.params.token}`, csrf: csrf.token(`invite:${req.params.token}`), username: user.username }));
    });

    scope.post<{ Params: { token: string } }>("/invite/:token/passkey/register-options", async (req, reply) => {
      csrf.check(req, `invite:${req.params.token}`);
      throttle(req);
      const inv = await idp.invitations.peek(req.params.token);
      if (!inv || inv.createdBy.startsWith("federation:")) throw new TenetError("not_found", "This invitation link is invalid, expired or already used.");
      const user = await idp.directory.requireUser(inv.userId);
      return securityHeaders(reply).send(await idp.passkeys.registrationOptions(user));
    });

    scope.post<{ Params: { token: string }; Body: { handle?: unknown; response?: unknown; name?: unknown } }>("/invite/:token/passkey/register", async (req, reply) => {
      csrf.check(req, `invite:${req.params.token}`);
      throttle(req);
      const inv = await idp.invitations.peek(req.params.token);
      if (!inv || inv.createdBy.startsWith("federation:")) throw new TenetError("not_found", "This invitation link is invalid, expired or already used.");
      try {
        await idp.passkeys.verifyRegistration(String(req.body?.handle ?? ""), inv.userId, req.body?.response, typeof req.body?.name === "string" ? req.body.name : undefined);
      } catch (err) {
        await recordPasskeyFailure(req, err, undefined);
        throw err;
      }
      await idp.invitations.redeem(req.params.token);
      await idp.directory.activate(inv.userId);
      await guard.factorChange(inv.userId, "passkey registered from an invitation", clientIp(req));
      return securityHeaders(reply).send({ redirect: "/account" });
    });

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
          devices: o.devices ? await o.devices.listByUser(s.user.id) : [],
          totp: o.factors?.totp ? await o.factors.totp.isEnrolled(s.user.id) : undefined,
          recoveryCodesLeft: o.factors?.recovery ? await o.factors.recovery.remaining(s.user.id) : undefined,
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
    if (o.factors?.totp) {
      const totp = o.factors.totp;
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
    if (o.factors?.recovery) {
      const recovery = o.factors.recovery;
      scope.post("/account/recovery-codes", async (req, reply) => {
        const f = await freshSession(req, reply);
        if ("redirect" in f) return reply.redirect(f.redirect, 303);
        const codes = await recovery.generate(f.s.user.id);
        await guard.factorChange(f.s.user.id, "recovery codes generated", clientIp(req));
        return html(reply, recoveryCodesPage(codes));
      });
    }

    if (o.devices) {
      const devices = o.devices;
      scope.post<{ Params: { id: string } }>("/account/devices/:id/remove", async (req, reply) => {
        const s = await accountSession(req, reply);
        if (!s) return reply.redirect("/account/signin", 303);
        csrf.check(req, `account:${s.uid}`);
        await devices.remove(s.user.id, req.params.id);
        return reply.redirect("/account?notice=Device%20removed", 303);
      });
    }
  });
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
