/**
 * The sign-in pages: the provider's login interaction (interaction.ts), invitations (invite.ts)
 * and the account page (account.ts), registered on Fastify beside the API in one scope with its
 * own form parser and error pages. The provider itself is mounted at /oidc before Fastify
 * (src/identity/idp.ts).
 */
import type { FastifyInstance } from "fastify";
import { isTenetError } from "../../errors.js";
import { registerAccountRoutes } from "./account.js";
import { CSS, WEBAUTHN_JS } from "./assets.js";
import { html, signInContext, type SignInRoutesOptions } from "./context.js";
import { registerInteractionRoutes } from "./interaction.js";
import { registerInviteRoutes } from "./invite.js";
import { messagePage } from "./pages.js";
import { Csrf, formParser, securityHeaders } from "./security.js";

export { ACCOUNT_CLIENT_ID } from "./account.js";
export { federationTicket } from "./interaction.js";
export type { DevicePages, FederationButtons, SecondFactors, SignInRoutesOptions } from "./context.js";

export function registerSignInRoutes(app: FastifyInstance, o: SignInRoutesOptions): void {
  const origin = new URL(o.idp.publicUrl).origin;
  const c = signInContext(o, new Csrf(o.idp.cookieKeys[0]!, origin), origin.startsWith("https:"));

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

    registerInteractionRoutes(scope, c);
    registerInviteRoutes(scope, c);
    registerAccountRoutes(scope, c);
  });
}
