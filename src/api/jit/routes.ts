/**
 * Just-in-time access over HTTP, per store under `/stores/{store_id}/jit/`. Handlers are thin:
 * validate (schemas.ts), call the JIT service, shape the reply (the wire shape of view.ts).
 *
 * Who acts: the API credential is a service's (a portal, a chat bot, a PEP), acting for people,
 * as AuthZEN PEPs do. The person is named in the body (`requester`, `approver`, `reviewer`,
 * `actor`) and recorded in the request's history; the credential needs `write` to act for anyone
 * and `read` to look. Give such a credential only to services that authenticate their users.
 */
import type { JitService } from "../../policy/jit/service.js";
import { requestView } from "../../policy/jit/view.js";
import type { Router } from "../route.js";
import * as s from "./schemas.js";

const TAGS = ["Just-in-time access"];
const BASE = "/stores/:store_id/jit";

export function registerJitRoutes(r: Router, jit: JitService): void {
  r.add({
    method: "POST", url: `${BASE}/requests`, summary: "Request access for a while (returns the open request for the same access if any)", tags: TAGS, scope: "write",
    params: s.storeParams, body: s.createBody,
    handler: async ({ params, body, reply }) => {
      const { request, created } = await jit.open({
        storeId: params.store_id,
        requester: body.requester,
        resource: body.resource,
        action: body.action,
        reason: body.reason,
        duration: body.duration,
        approvers: body.approvers,
      });
      reply.code(created ? 201 : 200);
      return requestView(request);
    },
  });
  r.add({
    method: "GET", url: `${BASE}/requests`, summary: "List requests (oldest first)", tags: TAGS, scope: "read",
    params: s.storeParams, query: s.listQuery,
    handler: async ({ params, query }) => {
      const page = await jit.list({
        storeId: params.store_id,
        status: query.status,
        requester: query.requester,
        approver: query.approver,
        after: query.continuation_token,
        limit: query.page_size,
      });
      return { requests: page.items.map((x) => requestView(x)), continuation_token: page.next ?? "" };
    },
  });
  r.add({
    method: "GET", url: `${BASE}/requests/:id`, summary: "Get a request with its history", tags: TAGS, scope: "read",
    params: s.requestParams,
    handler: async ({ params }) => requestView(await jit.get(params.id, { storeId: params.store_id })),
  });
  r.add({
    method: "POST", url: `${BASE}/requests/:id/approve`, summary: "Approve a pending request (grants until its duration ends)", tags: TAGS, scope: "write",
    params: s.requestParams, body: s.decisionBody,
    handler: async ({ params, body }) => requestView(await jit.approve(params.id, body.approver, body.justification, { storeId: params.store_id })),
  });
  r.add({
    method: "POST", url: `${BASE}/requests/:id/deny`, summary: "Deny a pending request", tags: TAGS, scope: "write",
    params: s.requestParams, body: s.decisionBody,
    handler: async ({ params, body }) => requestView(await jit.deny(params.id, body.approver, body.justification, { storeId: params.store_id })),
  });
  r.add({
    method: "POST", url: `${BASE}/requests/:id/revoke`, summary: "End a grant in force now", tags: TAGS, scope: "write",
    params: s.requestParams, body: s.revokeBody,
    handler: async ({ params, body }) => requestView(await jit.revoke(params.id, body.actor, body.justification, { storeId: params.store_id })),
  });
  r.add({
    method: "POST", url: `${BASE}/requests/:id/review`, summary: "Review a break-glass grant (revoked ends it now)", tags: TAGS, scope: "write",
    params: s.requestParams, body: s.reviewBody,
    handler: async ({ params, body }) =>
      requestView(await jit.review(params.id, body.reviewer, body.outcome, body.justification, { storeId: params.store_id })),
  });
  r.add({
    method: "POST", url: `${BASE}/break-glass`, summary: "Grant access at once, to be reviewed afterwards", tags: TAGS, scope: "write",
    params: s.storeParams, body: s.breakGlassBody,
    handler: async ({ params, body, reply }) => {
      const request = await jit.breakGlass({
        storeId: params.store_id,
        requester: body.requester,
        resource: body.resource,
        action: body.action,
        reason: body.reason,
        duration: body.duration,
        reviewers: body.reviewers,
      });
      reply.code(201);
      return requestView(request);
    },
  });
}
