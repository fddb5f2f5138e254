/** Invitations: a one-time link to register a first passkey (no password is ever set). */
import type { FastifyInstance } from "fastify";
import { TenetError } from "../../errors.js";
import { html, type SignInContext } from "./context.js";
import { invitePage, messagePage } from "./pages.js";
import { clientIp, securityHeaders } from "./security.js";

export function registerInviteRoutes(scope: FastifyInstance, c: SignInContext): void {
  const { idp, guard, csrf, throttle, recordPasskeyFailure } = c;
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

}
