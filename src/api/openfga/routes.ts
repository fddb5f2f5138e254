/**
 * OpenFGA's HTTP API (v1 paths and JSON shapes), so OpenFGA SDKs and the `fga` CLI work
 * unchanged. Handlers are thin: validate (schemas.ts), call the policy service, shape the reply.
 */
import type { RelationshipQueryRecorder } from "../../audit/query-recorder.js";
import type { LaneReply } from "../lane.js";
import type { z } from "zod";
import { TenetError, type TenetErrorCode } from "../../errors.js";
import { openfgaName } from "../http-errors.js";
import type { PolicyService } from "../../policy/service.js";
import type { TupleKey } from "../../policy/tuples/tuple.js";
import type { Assertion, ModelRecord, StoreRecord } from "../../storage/interfaces.js";
import type { Router } from "../route.js";
import { ensureFresh } from "./consistency.js";
import * as s from "./schemas.js";

const TAGS = ["OpenFGA"];

const storeJson = (st: StoreRecord) => ({ id: st.id, name: st.name, created_at: st.createdAt, updated_at: st.updatedAt });
const modelJson = (m: ModelRecord) => ({ id: m.id, ...m.model });

function tuples(ct: { tuple_keys: TupleKey[] } | undefined): TupleKey[] | undefined {
  return ct?.tuple_keys;
}

/** Every write returns its revision as a consistency token in this header. */
export const CONSISTENCY_HEADER = "tenet-consistency-token";

function setRevision(reply: LaneReply, revision: number): void {
  reply.header(CONSISTENCY_HEADER, String(revision));
}

export function registerOpenFgaRoutes(r: Router, policy: PolicyService, opts: { queries?: RelationshipQueryRecorder | undefined } = {}): void {
  const queries = opts.queries;
  // ---- stores ----
  r.add({
    method: "POST", url: "/stores", summary: "Create a store", tags: TAGS, scope: "admin", body: s.createStoreBody,
    handler: async ({ body, reply }) => {
      reply.code(201);
      return storeJson(await policy.createStore(body.name));
    },
  });
  r.add({
    method: "GET", url: "/stores", summary: "List stores", tags: TAGS, scope: "admin", query: s.pageQuery,
    handler: async ({ query }) => {
      const page = await policy.listStores(pageReq(query), query.name);
      const stores = page.items.map(storeJson);
      return { stores, continuation_token: page.continuationToken ?? "" };
    },
  });
  r.add({
    method: "GET", url: "/stores/:store_id", summary: "Get a store", tags: TAGS, scope: "read", params: s.storeParams,
    handler: async ({ params }) => storeJson(await policy.getStore(params.store_id)),
  });
  r.add({
    method: "DELETE", url: "/stores/:store_id", summary: "Delete a store", tags: TAGS, scope: "admin", params: s.storeParams,
    handler: async ({ params, reply }) => {
      await policy.deleteStore(params.store_id);
      reply.code(204);
      return null;
    },
  });

  // ---- models ----
  r.add({
    method: "POST", url: "/stores/:store_id/authorization-models", summary: "Write an authorization model", tags: TAGS, scope: "admin",
    params: s.storeParams, body: s.writeModelBody,
    handler: async ({ params, body, reply }) => {
      const rec = await policy.writeModel(params.store_id, body);
      reply.code(201);
      return { authorization_model_id: rec.id };
    },
  });
  r.add({
    method: "GET", url: "/stores/:store_id/authorization-models", summary: "List authorization models (newest first)", tags: TAGS, scope: "read",
    params: s.storeParams, query: s.pageQuery,
    handler: async ({ params, query }) => {
      await policy.getStore(params.store_id);
      const page = await policy.listModels(params.store_id, pageReq(query));
      return { authorization_models: page.items.map(modelJson), continuation_token: page.continuationToken ?? "" };
    },
  });
  r.add({
    method: "GET", url: "/stores/:store_id/authorization-models/:id", summary: "Get an authorization model", tags: TAGS, scope: "read",
    params: s.modelParams,
    handler: async ({ params }) => ({ authorization_model: modelJson(await policy.getModel(params.store_id, params.id)) }),
  });

  // ---- tuples ----
  r.add({
    method: "POST", url: "/stores/:store_id/write", summary: "Write and delete tuples (all or nothing)", tags: TAGS, scope: "write",
    params: s.storeParams, body: s.writeBody,
    handler: async ({ params, body, reply }) => {
      const revision = await policy.write(params.store_id, {
        writes: body.writes?.tuple_keys as TupleKey[] | undefined,
        deletes: body.deletes?.tuple_keys,
        modelId: body.authorization_model_id,
        onDuplicate: body.writes?.on_duplicate,
        onMissing: body.deletes?.on_missing,
      });
      setRevision(reply, revision);
      return {};
    },
  });
  r.add({
    method: "POST", url: "/stores/:store_id/read", summary: "Read tuples", tags: TAGS, scope: "read", params: s.storeParams, body: s.readBody,
    handler: async ({ params, body }) => {
      await policy.getStore(params.store_id);
      const f = body.tuple_key ?? {};
      const filter: { object?: string; relation?: string; user?: string } = {};
      if (f.object) filter.object = f.object;
      if (f.relation) filter.relation = f.relation;
      if (f.user) filter.user = f.user;
      const page = await policy.read(params.store_id, filter, pageReq(body));
      return {
        tuples: page.items.map((t) => ({ key: t.key, timestamp: t.timestamp })),
        continuation_token: page.continuationToken ?? "",
      };
    },
  });
  r.add({
    method: "GET", url: "/stores/:store_id/changes", summary: "Read the change log", tags: TAGS, scope: "read", params: s.storeParams, query: s.changesQuery,
    handler: async ({ params, query }) => {
      await policy.getStore(params.store_id);
      let { after, skip } = decodeChangesToken(query.continuation_token);
      if (query.start_time && !query.continuation_token) {
        const t = new Date(query.start_time);
        if (Number.isNaN(t.getTime())) throw new TenetError("validation_error", "start_time must be an RFC 3339 timestamp");
        after = await policy.revisionBefore(params.store_id, t);
        skip = 0;
      }
      const size = query.page_size ?? 50;
      const opts: { type?: string; limit: number } = { limit: skip + size };
      if (query.type) opts.type = query.type;
      const all = await policy.readChanges(params.store_id, after, opts);
      const changes = all.slice(skip);
      let token = query.continuation_token ?? encodeChangesToken(after, skip);
      if (changes.length > 0) {
        // Resume just before the last revision returned, skipping the changes of it we have
        // already returned: exact even when a page ends part-way through one write.
        const last = changes[changes.length - 1]!.revision;
        token = encodeChangesToken(last - 1, all.filter((c) => c.revision === last).length);
      }
      return {
        changes: changes.map((c) => ({
          tuple_key: c.key,
          operation: c.operation === "write" ? "TUPLE_OPERATION_WRITE" : "TUPLE_OPERATION_DELETE",
          timestamp: c.timestamp,
        })),
        continuation_token: token,
      };
    },
  });

  // ---- assertions ----
  r.add({
    method: "PUT", url: "/stores/:store_id/assertions/:authorization_model_id", summary: "Write assertions of a model", tags: TAGS, scope: "write",
    params: s.assertionParams, body: s.assertionsBody,
    handler: async ({ params, body, reply }) => {
      await policy.writeAssertions(params.store_id, params.authorization_model_id, body.assertions as Assertion[]);
      reply.code(204);
      return null;
    },
  });
  r.add({
    method: "GET", url: "/stores/:store_id/assertions/:authorization_model_id", summary: "Read assertions of a model", tags: TAGS, scope: "read",
    params: s.assertionParams,
    handler: async ({ params }) => ({
      authorization_model_id: params.authorization_model_id,
      assertions: await policy.readAssertions(params.store_id, params.authorization_model_id),
    }),
  });

  // ---- queries ----
  r.add({
    method: "POST", url: "/stores/:store_id/check", summary: "Check", tags: TAGS, scope: "check", params: s.storeParams, body: s.checkBody,
    fast: { params: s.fastStoreParams, body: s.fastCheckBody }, lane: true,
    response: { type: "object", properties: { allowed: { type: "boolean" }, resolution: { type: "string" }, why: {} } },
    handler: async ({ params, body, reply, req: request }) => {
      const fresh = ensureFresh(policy, params.store_id, body);
      if (fresh) await fresh;
      const tk = body.tuple_key;
      // Fields set one by one: spreading the tuple key and then adding fields costs microseconds
      // per object in V8 (a slow path), more than the rest of this handler.
      const req = {
        object: tk.object,
        relation: tk.relation,
        user: tk.user,
        contextualTuples: tuples(body.contextual_tuples as { tuple_keys: TupleKey[] } | undefined),
        context: body.context,
        modelId: body.authorization_model_id,
        explain: body.explain,
      };
      // Answered from memory without a promise when the store is loaded (as good as always).
      const res = policy.checkNow(params.store_id, req) ?? (await policy.check(params.store_id, req));
      if (queries) await queries.record({ storeId: params.store_id, object: tk.object, relation: tk.relation, user: tk.user, context: body.context }, res.allowed, "openfga.check", request.principal?.id);
      reply.tenetDecision = res.allowed;
      return res.why ? { allowed: res.allowed, resolution: "", why: res.why } : { allowed: res.allowed, resolution: "" };
    },
  });
  r.add({
    method: "POST", url: "/stores/:store_id/batch-check", summary: "Batch check", tags: TAGS, scope: "check", params: s.storeParams, body: s.batchCheckBody,
    fast: { params: s.fastStoreParams, body: s.fastBatchCheckBody }, lane: true,
    handler: async ({ params, body, req: request }) => {
      const fresh = ensureFresh(policy, params.store_id, body);
      if (fresh) await fresh;
      const results = await policy.batchCheck(
        params.store_id,
        body.checks.map((c) => ({
          object: c.tuple_key.object,
          relation: c.tuple_key.relation,
          user: c.tuple_key.user,
          contextualTuples: tuples(c.contextual_tuples as { tuple_keys: TupleKey[] } | undefined),
          context: c.context,
          correlationId: c.correlation_id,
        })),
        body.authorization_model_id,
      );
      if (queries) {
        const byId = new Map(body.checks.map((c) => [c.correlation_id, c]));
        await Promise.all(
          [...results].flatMap(([id, out]) => {
            const c = byId.get(id);
            return c && out.error === undefined ? [queries.record({ storeId: params.store_id, object: c.tuple_key.object, relation: c.tuple_key.relation, user: c.tuple_key.user, context: c.context }, out.allowed, "openfga.batch_check", request.principal?.id)] : [];
          }),
        );
      }
      const result: Record<string, unknown> = {};
      for (const [id, out] of results) {
        result[id] = out.error ? { error: { input_error: openfgaName(out.error.code as TenetErrorCode), message: out.error.message } } : { allowed: out.allowed };
      }
      return { result };
    },
  });
  r.add({
    method: "POST", url: "/stores/:store_id/expand", summary: "Expand", tags: TAGS, scope: "read", params: s.storeParams, body: s.expandBody,
    handler: async ({ params, body }) => {
      const fresh = ensureFresh(policy, params.store_id, body);
      if (fresh) await fresh;
      const root = await policy.expand(params.store_id, {
        object: body.tuple_key.object,
        relation: body.tuple_key.relation,
        contextualTuples: tuples(body.contextual_tuples as { tuple_keys: TupleKey[] } | undefined),
        modelId: body.authorization_model_id,
      });
      return { tree: { root } };
    },
  });
  r.add({
    method: "POST", url: "/stores/:store_id/list-objects", summary: "List objects", tags: TAGS, scope: "check", params: s.storeParams, body: s.listObjectsBody,
    handler: async ({ params, body, req: request }) => {
      const fresh = ensureFresh(policy, params.store_id, body);
      if (fresh) await fresh;
      const objects = await policy.listObjects(params.store_id, listObjectsRequest(body));
      if (queries) await queries.recordList({ kind: "objects", storeId: params.store_id, type: body.type, relation: body.relation, user: body.user, found: objects.length, context: body.context }, "openfga.list_objects", request.principal?.id);
      return { objects };
    },
  });
  r.add({
    method: "POST", url: "/stores/:store_id/streamed-list-objects", summary: "List objects, streamed as NDJSON", tags: TAGS, scope: "check",
    params: s.storeParams, body: s.listObjectsBody,
    handler: async ({ params, body, reply, req: request }) => {
      const fresh = ensureFresh(policy, params.store_id, body);
      if (fresh) await fresh;
      const objects = await policy.listObjects(params.store_id, listObjectsRequest(body));
      if (queries) await queries.recordList({ kind: "objects", storeId: params.store_id, type: body.type, relation: body.relation, user: body.user, found: objects.length, context: body.context }, "openfga.streamed_list_objects", request.principal?.id);
      reply.header("content-type", "application/x-ndjson");
      return objects.map((object) => JSON.stringify({ result: { object } })).join("\n") + (objects.length ? "\n" : "");
    },
  });
  r.add({
    method: "POST", url: "/stores/:store_id/list-users", summary: "List users", tags: TAGS, scope: "check", params: s.storeParams, body: s.listUsersBody,
    handler: async ({ params, body, req: request }) => {
      const fresh = ensureFresh(policy, params.store_id, body);
      if (fresh) await fresh;
      const object = `${body.object.type}:${body.object.id}`;
      const users = await policy.listUsers(params.store_id, {
        object,
        relation: body.relation,
        userFilters: body.user_filters,
        contextualTuples: body.contextual_tuples as TupleKey[] | undefined,
        context: body.context,
        modelId: body.authorization_model_id,
      });
      if (queries) {
        const userType = body.user_filters.map((f) => (f.relation ? `${f.type}#${f.relation}` : f.type)).join(",");
        await queries.recordList({ kind: "users", storeId: params.store_id, object, relation: body.relation, userType, found: users.length, context: body.context }, "openfga.list_users", request.principal?.id);
      }
      return { users: users.map(userJson) };
    },
  });
}

function listObjectsRequest(body: z.infer<typeof s.listObjectsBody>) {
  return {
    type: body.type,
    relation: body.relation,
    user: body.user,
    contextualTuples: tuples(body.contextual_tuples as { tuple_keys: TupleKey[] } | undefined),
    context: body.context,
    modelId: body.authorization_model_id,
  };
}

function pageReq(q: { page_size?: number | undefined; continuation_token?: string | undefined }) {
  const out: { pageSize?: number; continuationToken?: string } = {};
  if (q.page_size !== undefined) out.pageSize = q.page_size;
  if (q.continuation_token) out.continuationToken = q.continuation_token;
  return out;
}

/** OpenFGA's ListUsers user shape. */
function userJson(u: string) {
  const colon = u.indexOf(":");
  const type = u.slice(0, colon);
  const rest = u.slice(colon + 1);
  if (rest === "*") return { wildcard: { type } };
  const hash = rest.indexOf("#");
  if (hash >= 0) return { userset: { type, id: rest.slice(0, hash), relation: rest.slice(hash + 1) } };
  return { object: { type, id: rest } };
}

/** Change-log tokens: (revision r, n) = "the changes after revision r, skipping the first n". */
function encodeChangesToken(after: number, skip: number): string {
  return Buffer.from(`${after}.${skip}`).toString("base64url");
}

function decodeChangesToken(token: string | undefined): { after: number; skip: number } {
  if (!token) return { after: 0, skip: 0 };
  const m = /^(\d{1,15})\.(\d{1,9})$/.exec(Buffer.from(token, "base64url").toString("utf8"));
  if (!m) {
    throw new TenetError("validation_error", "invalid continuation token");
  }
  return { after: Number(m[1]), skip: Number(m[2]) };
}
