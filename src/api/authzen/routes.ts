/**
 * OpenID AuthZEN Authorization API 1.0 over the policy engine, per store at
 * `/stores/{store_id}/access/v1/...` (as OpenFGA serves it) and at `/access/v1/...` for the
 * configured default store. Mapping (documented in the README):
 *   subject {type,id} → user `type:id`; resource {type,id} → object `type:id`;
 *   action.name → relation; condition context = subject, resource and action `properties`
 *   merged, then the request `context` (which wins on conflicts).
 * A decision's `context.reason` says why (the explain path, or the error for a failed item).
 */
import type { RelationshipQueryRecorder } from "../../audit/query-recorder.js";
import { TenetError } from "../../errors.js";
import { ZodError } from "zod";
import type { AccessDecisionPoint } from "../../policy/access/decision-point.js";
import { accessRequestFromAuthzen } from "../access/schemas.js";
import type { LaneRequest } from "../lane.js";
import type { PolicyService } from "../../policy/service.js";
import { authorizeStore } from "../auth/authenticator.js";
import type { Router } from "../route.js";
import * as s from "./schemas.js";

type Entity = { type: string; id: string; properties?: Record<string, unknown> | undefined };
type Action = { name: string; properties?: Record<string, unknown> | undefined };

const TAGS = ["AuthZEN"];

function conditionContext(sub?: Entity, res?: Entity, act?: Action, ctx?: Record<string, unknown>): Record<string, unknown> {
  return { ...(sub?.properties ?? {}), ...(res?.properties ?? {}), ...(act?.properties ?? {}), ...(ctx ?? {}) };
}

async function decide(policy: PolicyService, storeId: string, sub: Entity, res: Entity, act: Action, ctx?: Record<string, unknown>) {
  try {
    const req = {
      object: `${res.type}:${res.id}`,
      relation: act.name,
      user: `${sub.type}:${sub.id}`,
      context: conditionContext(sub, res, act, ctx),
      explain: true,
    };
    const r = policy.checkNow(storeId, req) ?? (await policy.check(storeId, req));
    return r.allowed ? { decision: true, context: { reason: r.why } } : { decision: false };
  } catch (err) {
    // Problems with one evaluation (an unknown relation, a missing condition parameter) are that
    // evaluation's deny; problems with the store itself fail the whole request.
    if (err instanceof TenetError && err.status < 500 && !STORE_LEVEL.has(err.code)) {
      return { decision: false, context: { error: { status: err.status, code: err.code, message: err.message } } };
    }
    throw err;
  }
}

const STORE_LEVEL = new Set(["store_not_found", "latest_model_not_found", "model_not_found", "unavailable", "unauthenticated", "forbidden"]);

function paged<T>(all: T[], page: { token?: string | undefined; limit?: number | undefined } | undefined) {
  const start = page?.token ? Number.parseInt(Buffer.from(page.token, "base64url").toString("utf8"), 10) : 0;
  if (!Number.isSafeInteger(start) || start < 0) throw new TenetError("validation_error", "invalid page token");
  const limit = page?.limit ?? 100;
  const results = all.slice(start, start + limit);
  const next = start + limit < all.length ? Buffer.from(String(start + limit)).toString("base64url") : "";
  return { results, page: { next_token: next } };
}

/**
 * A store with live access policies answers through them: the decision is `allow` only when the
 * policies allow, and the response context carries the decision id, the outcome (`challenge`,
 * `pending`), what is missing, obligations, matching rules, relationship paths and risk reasons.
 */
async function decideWithPolicies(pdp: AccessDecisionPoint, storeId: string, sub: Entity, res: Entity, act: Action, ctx?: Record<string, unknown>) {
  let req;
  try {
    req = accessRequestFromAuthzen(sub, res, act.name, ctx);
  } catch (err) {
    if (err instanceof ZodError) {
      throw new TenetError("validation_error", `invalid request: ${err.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; ")}`);
    }
    throw err;
  }
  const d = await pdp.decide(storeId, req, { via: "authzen.evaluation" });
  const context: Record<string, unknown> = { decision_id: d.decision_id, outcome: d.decision, reasons: d.reasons, policies: d.rules, risk: d.risk, relationships: d.relationships, obligations: d.obligations };
  if (d.policy_version !== undefined) context.policy_version = d.policy_version;
  if (d.challenge) context.challenge = d.challenge;
  if (d.pending) context.pending = d.pending;
  if (d.grant) context.grant = d.grant;
  return { decision: d.decision === "allow", context };
}

export function registerAuthzenRoutes(
  r: Router,
  policy: PolicyService,
  opts: { defaultStoreId?: string | undefined; baseUrl: () => string; access?: AccessDecisionPoint | undefined; queries?: RelationshipQueryRecorder | undefined },
): void {
  const evaluateOne = async (storeId: string, sub: Entity, res: Entity, act: Action, ctx?: Record<string, unknown>): Promise<{ decision: boolean; context?: unknown }> => {
    if (opts.access && (await opts.access.hasPolicies(storeId))) return decideWithPolicies(opts.access, storeId, sub, res, act, ctx);
    const d = await decide(policy, storeId, sub, res, act, ctx);
    if (opts.queries) await opts.queries.record({ storeId, object: `${res.type}:${res.id}`, relation: act.name, user: `${sub.type}:${sub.id}`, context: ctx }, d.decision, "authzen.evaluation");
    return d;
  };
  const mounts: Array<{ prefix: string; store: (params: { store_id?: string }, req: LaneRequest) => string; params?: typeof s.storeParams }> = [
    { prefix: "/stores/:store_id", store: (p) => p.store_id!, params: s.storeParams },
    {
      prefix: "",
      store: (_p, req) => {
        if (!opts.defaultStoreId) throw new TenetError("not_found", "no default store is configured (set TENET_DEFAULT_STORE); use /stores/{store_id}/access/v1/...");
        // The store is not in the path, so the authenticator could not check it: do it here.
        authorizeStore(req.principal, opts.defaultStoreId);
        return opts.defaultStoreId;
      },
    },
  ];

  r.add({
    method: "GET", url: "/.well-known/authzen-configuration", summary: "AuthZEN PDP metadata", tags: TAGS,
    handler: async () => {
      const base = opts.baseUrl();
      return {
        policy_decision_point: base,
        access_evaluation_endpoint: `${base}/access/v1/evaluation`,
        access_evaluations_endpoint: `${base}/access/v1/evaluations`,
        search_subject_endpoint: `${base}/access/v1/search/subject`,
        search_resource_endpoint: `${base}/access/v1/search/resource`,
        search_action_endpoint: `${base}/access/v1/search/action`,
      };
    },
  });

  for (const m of mounts) {
    const params = m.params;
    r.add({
      method: "POST", url: `${m.prefix}/access/v1/evaluation`, summary: "Access evaluation", tags: TAGS, scope: "check",
      ...(params ? { params } : {}), body: s.evaluationBody,
      fast: { params: s.fastStoreParams, body: s.fastEvaluationBody }, lane: true,
      response: { type: "object", properties: { decision: { type: "boolean" }, context: {} } },
      handler: async ({ params: p, body, reply, req }) => {
        const storeId = m.store((p ?? {}) as { store_id?: string }, req);
        const d = await evaluateOne(storeId, body.subject, body.resource, body.action, body.context);
        reply.tenetDecision = d.decision;
        return d;
      },
    });
    r.add({
      method: "POST", url: `${m.prefix}/access/v1/evaluations`, summary: "Access evaluations (batch)", tags: TAGS, scope: "check",
      ...(params ? { params } : {}), body: s.evaluationsBody, lane: true,
      handler: async ({ params: p, body, req }) => {
        const storeId = m.store((p ?? {}) as { store_id?: string }, req);
        const items = body.evaluations && body.evaluations.length > 0 ? body.evaluations : [{}];
        const semantic = body.options?.evaluations_semantic ?? "execute_all";
        const evaluations: Array<{ decision: boolean; context?: unknown }> = [];
        for (const item of items) {
          const sub = item.subject ?? body.subject;
          const res = item.resource ?? body.resource;
          const act = item.action ?? body.action;
          if (!sub || !res || !act) {
            evaluations.push({ decision: false, context: { error: { status: 400, code: "validation_error", message: "subject, resource and action are required (in the item or as defaults)" } } });
          } else {
            evaluations.push(await evaluateOne(storeId, sub, res, act, { ...(body.context ?? {}), ...(item.context ?? {}) }));
          }
          const last = evaluations[evaluations.length - 1]!;
          if (semantic === "deny_on_first_deny" && !last.decision) break;
          if (semantic === "permit_on_first_permit" && last.decision) break;
        }
        // Without a batch, the response is a single decision (AuthZEN 1.0 §7.1).
        if (!body.evaluations || body.evaluations.length === 0) return evaluations[0];
        return { evaluations };
      },
    });
    r.add({
      method: "POST", url: `${m.prefix}/access/v1/search/subject`, summary: "Subject search", tags: TAGS, scope: "check",
      ...(params ? { params } : {}), body: s.searchSubjectBody,
      handler: async ({ params: p, body, req }) => {
        const storeId = m.store((p ?? {}) as { store_id?: string }, req);
        const users = await policy.listUsers(storeId, {
          object: `${body.resource.type}:${body.resource.id}`,
          relation: body.action.name,
          userFilters: [{ type: body.subject.type }],
          context: conditionContext(undefined, body.resource, body.action, body.context),
        });
        const subjects = users.map((u) => ({ type: u.slice(0, u.indexOf(":")), id: u.slice(u.indexOf(":") + 1) }));
        return paged(subjects, body.page);
      },
    });
    r.add({
      method: "POST", url: `${m.prefix}/access/v1/search/resource`, summary: "Resource search", tags: TAGS, scope: "check",
      ...(params ? { params } : {}), body: s.searchResourceBody,
      handler: async ({ params: p, body, req }) => {
        const storeId = m.store((p ?? {}) as { store_id?: string }, req);
        const objects = await policy.listObjects(storeId, {
          type: body.resource.type,
          relation: body.action.name,
          user: `${body.subject.type}:${body.subject.id}`,
          context: conditionContext(body.subject, undefined, body.action, body.context),
          maxResults: 10_000,
        });
        const resources = objects.map((o) => ({ type: o.slice(0, o.indexOf(":")), id: o.slice(o.indexOf(":") + 1) }));
        return paged(resources, body.page);
      },
    });
    r.add({
      method: "POST", url: `${m.prefix}/access/v1/search/action`, summary: "Action search", tags: TAGS, scope: "check",
      ...(params ? { params } : {}), body: s.searchActionBody,
      handler: async ({ params: p, body, req }) => {
        const storeId = m.store((p ?? {}) as { store_id?: string }, req);
        const { ts } = await policy.typeSystem(storeId);
        const rels = [...(ts.types.get(body.resource.type)?.relations.keys() ?? [])];
        if (!ts.types.has(body.resource.type)) throw new TenetError("type_not_found", `type '${body.resource.type}' is not defined in the model`);
        const allowed: Array<{ name: string }> = [];
        for (const name of rels) {
          const d = await decide(policy, storeId, body.subject, body.resource, { name }, body.context);
          if (d.decision) allowed.push({ name });
        }
        return paged(allowed, body.page);
      },
    });
  }
}
