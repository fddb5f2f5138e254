/**
 * "Sign in with <provider>" in the browser: two GET routes around the Federation service.
 *
 *   GET {base}/{providerId}?returnTo=/path[&login_hint=...]
 *       starts the sign-in: a cookie holds the pending sign-in's id, and the browser goes to the
 *       upstream's authorization endpoint (302).
 *   GET {base}/{providerId}/callback?code=...&state=...&iss=...
 *       the upstream's redirect back: the cookie's id and the query go to `complete`, and the
 *       result to the sign-in pages (`finishSignIn`), which start Tenet's session and redirect.
 *
 * These are page routes, not JSON API routes (Router.add): they answer with redirects and
 * cookies, and need no API credential. The cookie is HttpOnly, `__Host-` and Secure behind
 * https, and SameSite=Lax — the callback is a cross-site top-level navigation from the upstream,
 * which a Strict cookie would not accompany (RFC 6265bis §8.8). It is per provider, so sign-ins
 * started in two tabs do not overwrite each other, and cleared at the callback whatever happens.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { TenetError } from "../../errors.js";
import type { FederatedSignIn, Federation } from "../../identity/federation/federation.js";
import { PENDING_TTL_MS } from "../../identity/federation/pending.js";

export const FEDERATION_BASE_PATH = "/signin/federated";

/** What the sign-in pages (the lead's part) do with a finished or failed federated sign-in. */
export interface FederationPages {
  /** Starts Tenet's session for `result.userId` with `result.factors`, and answers (usually a redirect to `result.returnTo`). */
  finishSignIn(req: FastifyRequest, reply: FastifyReply, result: FederatedSignIn): Promise<unknown>;
  /** Renders a refused or failed sign-in; without it the error goes to the server's error handler. */
  signInFailed?(req: FastifyRequest, reply: FastifyReply, err: TenetError, providerId: string): Promise<unknown>;
}

export interface FederationRoutesOptions {
  /** Default `/signin/federated`. */
  basePath?: string | undefined;
  /** Secure `__Host-` cookies (true whenever Tenet is served over https). */
  secureCookies: boolean;
}

/** The redirect URI to register at each upstream: `<publicUrl><base>/<providerId>/callback`. */
export function federationRedirectUri(publicUrl: string, basePath = FEDERATION_BASE_PATH): (providerId: string) => string {
  const origin = publicUrl.replace(/\/+$/, "");
  return (providerId) => `${origin}${basePath}/${encodeURIComponent(providerId)}/callback`;
}

export function registerFederationRoutes(app: FastifyInstance, federation: Federation, pages: FederationPages, opts: FederationRoutesOptions): void {
  const base = opts.basePath ?? FEDERATION_BASE_PATH;
  const cookieName = (providerId: string) => `${opts.secureCookies ? "__Host-" : ""}tenet-federation-${providerId}`;
  const attrs = `Path=/; HttpOnly; SameSite=Lax${opts.secureCookies ? "; Secure" : ""}`;

  // Checked before the id is used in a cookie's name.
  const ids = new Set(federation.providers().map((p) => p.id));
  const known = (providerId: string) => {
    if (!ids.has(providerId)) throw new TenetError("not_found", "there is no sign-in provider with that id");
  };

  const fail = async (req: FastifyRequest, reply: FastifyReply, err: unknown, providerId: string): Promise<unknown> => {
    if (err instanceof TenetError && pages.signInFailed) return pages.signInFailed(req, reply, err, providerId);
    throw err;
  };

  app.get<{ Params: { providerId: string }; Querystring: Record<string, unknown> }>(`${base}/:providerId`, async (req, reply) => {
    const { providerId } = req.params;
    try {
      known(providerId);
      const returnTo = single(req.query.returnTo, "returnTo");
      const loginHint = single(req.query.login_hint, "login_hint");
      const { url, stateId } = await federation.begin(providerId, { returnTo, loginHint });
      reply.header("set-cookie", `${cookieName(providerId)}=${stateId}; Max-Age=${PENDING_TTL_MS / 1000}; ${attrs}`);
      reply.header("cache-control", "no-store");
      return reply.redirect(url, 302);
    } catch (err) {
      return fail(req, reply, err, providerId);
    }
  });

  app.get<{ Params: { providerId: string } }>(`${base}/:providerId/callback`, async (req, reply) => {
    const { providerId } = req.params;
    try {
      known(providerId);
      const name = cookieName(providerId);
      reply.header("set-cookie", `${name}=; Max-Age=0; ${attrs}`);
      reply.header("cache-control", "no-store");
      const stateId = cookie(req.headers.cookie, name) ?? "";
      // Only the query matters: `complete` pairs it with the provider's own redirect URI.
      const result = await federation.complete(providerId, stateId, new URL(req.url, "http://callback.invalid"));
      return await pages.finishSignIn(req, reply, result);
    } catch (err) {
      return fail(req, reply, err, providerId);
    }
  });
}

function single(v: unknown, what: string): string | undefined {
  if (v === undefined) return undefined;
  if (typeof v !== "string") throw new TenetError("validation_error", `${what} must be given once`);
  return v;
}

/** The named cookie's value from a Cookie header (RFC 6265 §5.4), or undefined. */
function cookie(header: string | undefined, name: string): string | undefined {
  if (!header) return undefined;
  for (const part of header.split(";")) {
    const eq = part.indexOf("=");
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}
