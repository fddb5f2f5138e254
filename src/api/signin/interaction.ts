/**
 * The provider's login interaction: the sign-in page (passkey, recovery code, federated buttons),
 * step-up ("Confirm it's you": only the missing factor), TOTP, cancel, and the end of a
 * federated sign-in. Every outcome goes through the guard before the interaction is finished.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { TenetError } from "../../errors.js";
import { acrLevel, assurance, normaliseAcr, type Factors } from "../../identity/acr.js";
import type { IdentityPlane } from "../../identity/idp.js";
import { PasskeyError } from "../../identity/passkeys/passkeys.js";
import { requestedAcrs } from "../../identity/oidc/provider.js";
import { html, type SignInContext } from "./context.js";
import { signInPage } from "./pages.js";
import { clientIp, securityHeaders } from "./security.js";

const UID = /^[A-Za-z0-9_-]{10,64}$/;

type Details = Awaited<ReturnType<IdentityPlane["provider"]["interactionDetails"]>>;

/** Why the step-up page is shown, in words. */
function stepUpReason(wanted: string[], maxAge: boolean): string {
  const level = Math.min(...wanted.map(acrLevel).filter((l) => l >= 0));
  if (level === 3) return "a hardware security key is required";
  if (level === 2) return "a passkey is required";
  if (level === 1) return "a second factor is required";
  return maxAge ? "your last sign-in is too old" : "please sign in again";
}

/** The federation routes' callback result, handed to the interaction with a one-time ticket. */
export async function federationTicket(idp: IdentityPlane, result: { userId: string; providerId: string; returnTo?: string | undefined; factors: Pick<Factors, "upstream"> }): Promise<string> {
  const m = /^\/signin\/([A-Za-z0-9_-]{10,64})$/.exec(result.returnTo ?? "");
  if (!m) return "/account";
  const t = await idp.invitations.create(result.userId, `federation:${result.providerId}:${JSON.stringify(result.factors.upstream ?? { trusted: false })}`, 120_000);
  return `/signin/${m[1]}/federated?t=${t.token}`;
}

export function registerInteractionRoutes(scope: FastifyInstance, c: SignInContext): void {
  const { idp, guard, csrf, throttle, recordPasskeyFailure } = c;
  // ---- the provider's login interaction ----

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
    const totp = user && level <= 1 && (d.session?.amr?.length ?? 0) > 0 && c.factors?.totp ? await c.factors.totp.isEnrolled(user.id) : false;
    return signInPage({
      base: `/signin/${d.uid}`,
      csrf: csrf.token(`interaction:${d.uid}`),
      clientName,
      stepUp: user ? { username: user.username, why: stepUpReason(wanted, maxAge), totp, hardwareOnly: level === 3 } : undefined,
      federation: user ? [] : (c.federation?.providers() ?? []),
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
    if (!user || !c.factors?.totp) throw new TenetError("validation_error", "An authenticator app code is only a second step; sign in first.");
    throttle(req, user.id);
    const code = String(req.body?.code ?? "").trim();
    if (!(await c.factors.totp.verify(user.id, code))) {
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
    if (!user || !c.factors?.recovery || !(await c.factors.recovery.consume(user.id, code))) {
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

}
