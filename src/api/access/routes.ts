/**
 * Access decisions and access policies over HTTP:
 *   POST /stores/{store_id}/access/v1/decide            one decision (native shape)
 *   PUT  /stores/{store_id}/access-policies             apply a set (validated first; live or shadow; dry run)
 *   GET  /stores/{store_id}/access-policies             the live and shadow versions
 *   GET  /stores/{store_id}/access-policies/versions    history; .../versions/{n} one version
 *   GET  /stores/{store_id}/access-policies/diff        ?from=&to=
 *   POST /stores/{store_id}/access-policies/rollback    { version }
 *   POST /stores/{store_id}/access-policies/promote     the shadow version goes live
 *   GET  /stores/{store_id}/access-policies/shadow-report
 */
import type { AccessDecisionPoint } from "../../policy/access/decision-point.js";
import type { AccessPolicyStore } from "../../policy/access/policy-store.js";
import type { AccessRequest } from "../../policy/access/types.js";
import type { PolicyService } from "../../policy/service.js";
import { storeParams } from "../openfga/schemas.js";
import type { Router } from "../route.js";
import * as s from "./schemas.js";

const TAGS = ["Access policies"];

export function registerAccessRoutes(r: Router, deps: { policy: PolicyService; policies: AccessPolicyStore; pdp: AccessDecisionPoint }): void {
  const { policy, policies, pdp } = deps;
  const actor = (req: { principal?: { id: string } | undefined }): string => req.principal?.id ?? "unknown";

  r.add({
    method: "POST", url: "/stores/:store_id/access/v1/decide", summary: "Access decision (policies, risk, relationships, just-in-time)", tags: TAGS, scope: "check",
    params: storeParams, body: s.accessRequestBody,
    handler: async ({ params, body, reply, req }) => {
      await policy.getStore(params.store_id);
      const d = await pdp.decide(params.store_id, body as AccessRequest, { via: "access.decide", client: req.principal?.id });
      reply.tenetDecision = d.decision === "allow";
      return d;
    },
  });

  r.add({
    method: "PUT", url: "/stores/:store_id/access-policies", summary: "Apply access policies", tags: TAGS, scope: "write",
    params: storeParams, body: s.applyBody,
    handler: async ({ params, body, req }) => {
      await policy.getStore(params.store_id);
      const sources = body.files.map((f) => ({ file: f.name, text: f.content }));
      // The relations rules ask about are checked against the store's model (when it has one).
      const model = await policy.latestTypeSystem(params.store_id);
      if (body.dry_run) {
        const compiled = policies.validate(sources, model);
        return { dry_run: true, policies: compiled.policies.map((p) => p.name) };
      }
      const { version } = await policies.apply(params.store_id, sources, { mode: body.mode ?? "live", appliedBy: actor(req), comment: body.comment ?? "", model });
      pdp.invalidate(params.store_id);
      return { version: version.version, mode: body.mode ?? "live", policies: version.policies, applied_at: version.appliedAt };
    },
  });

  r.add({
    method: "GET", url: "/stores/:store_id/access-policies", summary: "Live and shadow access-policy versions", tags: TAGS, scope: "read",
    params: storeParams,
    handler: async ({ params }) => {
      await policy.getStore(params.store_id);
      const head = await policies.head(params.store_id);
      const live = head.live === undefined ? undefined : await policies.version(params.store_id, head.live);
      return { live: head.live ?? null, shadow: head.shadow ?? null, policies: live?.policies ?? [] };
    },
  });

  r.add({
    method: "GET", url: "/stores/:store_id/access-policies/versions", summary: "Access-policy history", tags: TAGS, scope: "read",
    params: storeParams,
    handler: async ({ params }) => {
      await policy.getStore(params.store_id);
      const list = await policies.history(params.store_id, { limit: 1000 });
      return { versions: list.map((v) => ({ version: v.version, applied_at: v.appliedAt, applied_by: v.appliedBy, comment: v.comment, policies: v.policies, ...(v.restoredFrom !== undefined ? { restored_from: v.restoredFrom } : {}) })) };
    },
  });

  r.add({
    method: "GET", url: "/stores/:store_id/access-policies/versions/:version", summary: "One access-policy version with its files", tags: TAGS, scope: "read",
    params: s.versionParams,
    handler: async ({ params }) => {
      const v = await policies.version(params.store_id, params.version);
      return { version: v.version, applied_at: v.appliedAt, applied_by: v.appliedBy, comment: v.comment, policies: v.policies, files: v.sources.map((f) => ({ name: f.file, content: f.text })) };
    },
  });

  r.add({
    method: "GET", url: "/stores/:store_id/access-policies/diff", summary: "Differences between two access-policy versions", tags: TAGS, scope: "read",
    params: storeParams, query: s.diffQuery,
    handler: async ({ params, query }) => policies.diff(params.store_id, query.from, query.to),
  });

  r.add({
    method: "POST", url: "/stores/:store_id/access-policies/rollback", summary: "Make an earlier access-policy version live again", tags: TAGS, scope: "write",
    params: storeParams, body: s.rollbackBody,
    handler: async ({ params, body, req }) => {
      const v = await policies.rollback(params.store_id, body.version, actor(req));
      pdp.invalidate(params.store_id);
      return { version: v.version, restored_from: body.version, policies: v.policies };
    },
  });

  r.add({
    method: "POST", url: "/stores/:store_id/access-policies/promote", summary: "Make the shadow access policies live", tags: TAGS, scope: "write",
    params: storeParams, body: s.promoteBody,
    handler: async ({ params, body }) => {
      const live = await policies.promote(params.store_id, body.shadow_version);
      pdp.invalidate(params.store_id);
      return { live };
    },
  });

  r.add({
    method: "GET", url: "/stores/:store_id/access-policies/shadow-report", summary: "Decisions the shadow access policies would change", tags: TAGS, scope: "read",
    params: storeParams,
    handler: async ({ params }) => {
      await policy.getStore(params.store_id);
      const head = await policies.head(params.store_id);
      const report = pdp.shadowReport(params.store_id);
      return report ?? { storeId: params.store_id, shadowVersion: head.shadow, liveVersion: head.live, evaluated: 0, changed: 0, transitions: {}, examples: [] };
    },
  });
}
