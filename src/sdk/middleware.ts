/**
 * Enforcement in-process for Node servers behind Tenet (or beside it): middleware for
 * connect/Express and a Fastify plugin. Each request must carry a valid identity assertion from
 * Tenet's proxy or ext_authz (`x-tenet-assertion`); optionally the middleware also asks Tenet's
 * decision point about this request (for finer resources than the proxy's routes). Deny by
 * default: a missing or invalid assertion is 401, a decision other than allow is 403, and a
 * decision point that cannot be reached is 503 — the handler never runs on any of them.
 *
 * No framework is imported: the types below are the few members each framework is used by.
 */
import { AssertionError, type AssertionVerifier, assertionFromHeaders, type TenetIdentity } from "./assertion-verifier.js";

export interface DecisionPointOptions {
  /** Tenet's API base URL, e.g. https://tenet.example.com. */
  url: string;
  /** An API key with the `check` scope on the store. */
  token: string;
  storeId: string;
  /** What this request is about: the resource and the action (relation) to ask. */
  resourceOf: (req: { method?: string | undefined; url?: string | undefined }) => { resource: { type: string; id: string }; action: string };
  /** Milliseconds before a decision counts as unavailable (default 2000). */
  timeoutMs?: number;
}

export interface TenetMiddlewareOptions {
  verifier: AssertionVerifier;
  /** Header carrying the assertion (default `x-tenet-assertion`). */
  header?: string;
  /** Also ask the decision point about every request. */
  decide?: DecisionPointOptions;
}

export interface Refusal {
  status: 401 | 403 | 503;
  code: string;
  message: string;
}

/** Verifies (and optionally decides) one request: the identity, or why it is refused. */
export async function authorizeRequest(
  req: { headers: Record<string, string | string[] | undefined>; method?: string | undefined; url?: string | undefined },
  o: TenetMiddlewareOptions,
): Promise<{ ok: true; identity: TenetIdentity } | { ok: false; refusal: Refusal }> {
  let identity: TenetIdentity;
  try {
    identity = await o.verifier.verify(assertionFromHeaders(req.headers, o.header));
  } catch (err) {
    if (err instanceof AssertionError) return { ok: false, refusal: { status: err.code === "jwks_unavailable" ? 503 : 401, code: err.code, message: err.message } };
    return { ok: false, refusal: { status: 401, code: "invalid_assertion", message: "the identity assertion could not be verified" } };
  }
  if (!o.decide) return { ok: true, identity };
  const d = o.decide;
  const { resource, action } = d.resourceOf(req);
  try {
    const res = await fetch(`${d.url.replace(/\/+$/, "")}/stores/${encodeURIComponent(d.storeId)}/access/v1/decide`, {
      method: "POST",
      headers: { authorization: `Bearer ${d.token}`, "content-type": "application/json" },
      body: JSON.stringify({
        subject: { id: `user:${identity.subject}`, groups: identity.groups, ...(identity.acr ? { acr: identity.acr } : {}), amr: identity.amr, ...(identity.authTime !== undefined ? { auth_time: identity.authTime } : {}) },
        resource,
        action,
        request: { method: req.method, path: req.url?.split("?")[0] },
      }),
      signal: AbortSignal.timeout(d.timeoutMs ?? 2000),
    });
    if (!res.ok) return { ok: false, refusal: { status: 503, code: "decision_unavailable", message: `the decision point answered ${res.status}` } };
    const decision = (await res.json()) as { decision?: string; decision_id?: string };
    if (decision.decision === "allow") return { ok: true, identity };
    return { ok: false, refusal: { status: 403, code: decision.decision === "challenge" ? "step_up_required" : decision.decision === "pending" ? "approval_pending" : "forbidden", message: `access ${decision.decision ?? "denied"} (decision ${decision.decision_id ?? "?"})` } };
  } catch {
    return { ok: false, refusal: { status: 503, code: "decision_unavailable", message: "the decision point could not be reached" } };
  }
}

type NodeReq = { headers: Record<string, string | string[] | undefined>; method?: string | undefined; url?: string | undefined; tenet?: TenetIdentity };
type NodeRes = { statusCode: number; setHeader(name: string, value: string): unknown; end(body?: string): unknown };

/** connect/Express middleware: `app.use(tenetMiddleware({ verifier }))`; sets `req.tenet`. */
export function tenetMiddleware(o: TenetMiddlewareOptions) {
  return (req: NodeReq, res: NodeRes, next: (err?: unknown) => void): void => {
    authorizeRequest(req, o).then(
      (r) => {
        if (r.ok) {
          req.tenet = r.identity;
          next();
          return;
        }
        res.statusCode = r.refusal.status;
        res.setHeader("content-type", "application/json");
        if (r.refusal.status === 401) res.setHeader("www-authenticate", 'Bearer realm="tenet"');
        res.end(JSON.stringify({ code: r.refusal.code, message: r.refusal.message }));
      },
      (err: unknown) => next(err),
    );
  };
}

type FastifyLike = {
  decorateRequest(name: string, value: unknown): unknown;
  addHook(name: "onRequest", hook: (req: NodeReq & { raw: { url?: string } }, reply: { code(n: number): { header(k: string, v: string): { send(b: unknown): unknown } } }) => Promise<unknown>): unknown;
};

/**
 * Fastify plugin: `await app.register(tenetFastify, { verifier })` — wrap it with `fastify-plugin`
 * (or register it at the root) so it applies to every route; sets `request.tenet`.
 */
export async function tenetFastify(instance: object, o: TenetMiddlewareOptions): Promise<void> {
  // Typed structurally (the SDK does not depend on Fastify): a FastifyInstance is one of these.
  const app = instance as FastifyLike;
  app.decorateRequest("tenet", null);
  app.addHook("onRequest", async (req, reply) => {
    const r = await authorizeRequest(req, o);
    if (r.ok) {
      req.tenet = r.identity;
      return undefined;
    }
    return reply.code(r.refusal.status).header("content-type", "application/json").send({ code: r.refusal.code, message: r.refusal.message });
  });
}

// Like `fastify-plugin`: the hook applies to every route, not only those registered inside.
(tenetFastify as unknown as Record<symbol, boolean>)[Symbol.for("skip-override")] = true;
