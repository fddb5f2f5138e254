/**
 * The real, unmodified OpenFGA JavaScript SDK (`@openfga/sdk`) against a running Tenet server:
 * every client method an application uses, and the SDK's error classes for Tenet's errors.
 * If an OpenFGA application works against OpenFGA, it must work against Tenet unchanged.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import {
  ClientWriteRequestOnDuplicateWrites,
  ClientWriteRequestOnMissingDeletes,
  ClientWriteStatus,
  CredentialsMethod,
  FgaApiAuthenticationError,
  FgaApiError,
  FgaApiNotFoundError,
  FgaApiValidationError,
  OpenFgaClient,
  TupleOperation,
  type TupleKey,
  type WriteAuthorizationModelRequest,
} from "@openfga/sdk";
import { call, DOCS_MODEL, startServer, type TestServer } from "./harness.js";

let server: TestServer;
let fga: OpenFgaClient;
let storeId: string;
let modelId: string;
let plainModelId: string;

function sdk(opts: { storeId?: string; authorizationModelId?: string; token?: string } = {}): OpenFgaClient {
  return new OpenFgaClient({
    apiUrl: server.url,
    ...(opts.storeId ? { storeId: opts.storeId } : {}),
    ...(opts.authorizationModelId ? { authorizationModelId: opts.authorizationModelId } : {}),
    credentials: { method: CredentialsMethod.ApiToken, config: { token: opts.token ?? server.adminToken } },
    // Tenet's errors are final: do not let the SDK's retries slow the suite or hide a 5xx.
    retryParams: { maxRetry: 0, minWaitInMs: 10 },
  });
}

const tk = (object: string, relation: string, user: string, condition?: TupleKey["condition"]): TupleKey =>
  condition ? { object, relation, user, condition } : { object, relation, user };

/** How many requests the server has answered on a route (from its Prometheus metrics). */
async function served(route: string): Promise<number> {
  const text = (await call(server.url, "GET", "/metrics", { token: server.adminToken })).text;
  let n = 0;
  for (const m of text.matchAll(/^tenet_http_request_duration_seconds_count\{([^}]*)\} (\d+)$/gm)) {
    if (m[1]!.includes(`route="${route}"`)) n += Number(m[2]);
  }
  return n;
}

/** Runs fn and returns what it threw (fails when it does not throw). */
async function rejection(fn: () => Promise<unknown>): Promise<unknown> {
  try {
    await fn();
  } catch (err) {
    return err;
  }
  assert.fail("expected the call to be rejected");
}

const SEED: TupleKey[] = [
  tk("document:readme", "owner", "user:anne"),
  tk("document:readme", "viewer", "group:eng#member"),
  tk("group:eng", "member", "user:bob"),
  tk("document:readme", "parent", "folder:docs"),
  tk("folder:docs", "viewer", "user:carl"),
  tk("document:public", "viewer", "user:*"),
  tk("document:plan", "viewer", "user:dave", { name: "in_office_hours" }),
];

before(async () => {
  server = await startServer();
  fga = sdk();
});
after(async () => {
  await server.close();
});

describe("stores", () => {
  test("createStore, getStore, listStores (paged), then deleteStore", async () => {
    const created = await fga.createStore({ name: "sdk-store-a" });
    assert.match(created.id, /^[0-7][0-9A-HJKMNP-TV-Z]{25}$/);
    assert.equal(created.name, "sdk-store-a");
    assert.ok(!Number.isNaN(Date.parse(created.created_at)));
    const other = await fga.createStore({ name: "sdk-store-b" });

    const got = await fga.getStore({ storeId: created.id });
    assert.equal(got.id, created.id);
    assert.equal(got.name, "sdk-store-a");

    const seen: string[] = [];
    let token: string | undefined;
    for (let pages = 0; pages < 50; pages++) {
      const page = await fga.listStores({ pageSize: 1, ...(token ? { continuationToken: token } : {}) });
      assert.ok(page.stores.length <= 1);
      seen.push(...page.stores.map((s) => s.id));
      token = page.continuation_token;
      if (!token) break;
    }
    assert.ok(seen.includes(created.id) && seen.includes(other.id), `listStores paged through ${JSON.stringify(seen)}`);
    assert.equal(new Set(seen).size, seen.length, "no store is listed twice");

    await fga.deleteStore({ storeId: other.id });
    const err = await rejection(() => fga.getStore({ storeId: other.id }));
    assert.ok(err instanceof FgaApiNotFoundError, `expected FgaApiNotFoundError, got ${String(err)}`);
    assert.equal(err.statusCode, 404);
    assert.equal(err.apiErrorCode, "store_id_not_found");
  });

  test("an unknown store is a 404 FgaApiNotFoundError for queries too", async () => {
    const ghost = sdk({ storeId: "01ARZ3NDEKTSV4RRFFQ69G5FAV" });
    const err = await rejection(() => ghost.check({ user: "user:anne", relation: "viewer", object: "document:x" }));
    assert.ok(err instanceof FgaApiNotFoundError, `expected FgaApiNotFoundError, got ${String(err)}`);
    assert.equal(err.apiErrorCode, "store_id_not_found");
  });
});

describe("models, tuples and queries", () => {
  before(async () => {
    storeId = (await fga.createStore({ name: "sdk-main" })).id;
    fga = sdk({ storeId });
    const { conditions: _c, ...plain } = DOCS_MODEL;
    // The plain model (no condition) first, then the one with the condition (the latest).
    const plainModel = {
      ...plain,
      type_definitions: plain.type_definitions.map((td) =>
        td.type !== "document"
          ? td
          : {
              ...td,
              metadata: {
                relations: {
                  ...td.metadata!.relations,
                  viewer: { directly_related_user_types: [{ type: "user" }, { type: "user", wildcard: {} }, { type: "group", relation: "member" }] },
                },
              },
            },
      ),
    };
    plainModelId = (await fga.writeAuthorizationModel(plainModel as WriteAuthorizationModelRequest)).authorization_model_id;
    modelId = (await fga.writeAuthorizationModel(DOCS_MODEL as WriteAuthorizationModelRequest)).authorization_model_id;
    fga = sdk({ storeId, authorizationModelId: modelId });
    await fga.write({ writes: SEED });
  });

  test("readAuthorizationModels lists newest first; readAuthorizationModel and readLatest return the condition", async () => {
    const list = await fga.readAuthorizationModels();
    assert.deepEqual(
      list.authorization_models.map((m) => m.id),
      [modelId, plainModelId],
    );
    const paged = await fga.readAuthorizationModels({ pageSize: 1 });
    assert.equal(paged.authorization_models.length, 1);
    assert.ok(paged.continuation_token, "a continuation token for the second model");
    const second = await fga.readAuthorizationModels({ pageSize: 1, continuationToken: paged.continuation_token! });
    assert.deepEqual(second.authorization_models.map((m) => m.id), [plainModelId]);

    const one = await fga.readAuthorizationModel();
    assert.equal(one.authorization_model?.id, modelId);
    assert.equal(one.authorization_model?.schema_version, "1.1");
    assert.equal(one.authorization_model?.conditions?.in_office_hours?.expression, "hour >= 9 && hour < 17");
    assert.deepEqual(
      one.authorization_model?.type_definitions.map((t) => t.type),
      ["user", "group", "folder", "document"],
    );
    const plain = await fga.readAuthorizationModel({ authorizationModelId: plainModelId });
    assert.equal(plain.authorization_model?.conditions, undefined);

    const latest = await fga.readLatestAuthorizationModel();
    assert.equal(latest.authorization_model?.id, modelId);
  });

  test("check: usersets, tuple-to-userset, wildcard, conditions with context, contextual tuples", async () => {
    const allowed = async (user: string, relation: string, object: string, extra: { context?: object; contextualTuples?: TupleKey[] } = {}) =>
      (await fga.check({ user, relation, object, ...extra })).allowed;
    assert.equal(await allowed("user:anne", "viewer", "document:readme"), true, "owner → editor → viewer");
    assert.equal(await allowed("user:anne", "editor", "document:readme"), true);
    assert.equal(await allowed("user:bob", "viewer", "document:readme"), true, "group member");
    assert.equal(await allowed("user:bob", "editor", "document:readme"), false);
    assert.equal(await allowed("user:carl", "viewer", "document:readme"), true, "folder viewer via parent");
    assert.equal(await allowed("user:zoe", "viewer", "document:public"), true, "wildcard");
    assert.equal(await allowed("user:zoe", "viewer", "document:readme"), false);
    assert.equal(await allowed("user:dave", "viewer", "document:plan", { context: { hour: 10 } }), true);
    assert.equal(await allowed("user:dave", "viewer", "document:plan", { context: { hour: 20 } }), false);
    assert.equal(await allowed("user:erin", "viewer", "document:readme"), false);
    assert.equal(
      await allowed("user:erin", "viewer", "document:readme", { contextualTuples: [tk("group:eng", "member", "user:erin")] }),
      true,
      "a contextual tuple counts for this check only",
    );
    assert.equal(await allowed("user:erin", "viewer", "document:readme"), false, "and is not stored");
    // A check against an older model, by id.
    const res = await fga.check({ user: "user:anne", relation: "viewer", object: "document:readme" }, { authorizationModelId: plainModelId });
    assert.equal(res.allowed, true);
  });

  test("a check with an unknown relation is an FgaApiValidationError 'validation_error'", async () => {
    const err = await rejection(() => fga.check({ user: "user:anne", relation: "approver", object: "document:readme" }));
    assert.ok(err instanceof FgaApiValidationError, `expected FgaApiValidationError, got ${String(err)}`);
    assert.equal(err.statusCode, 400);
    assert.equal(err.apiErrorCode, "validation_error");
    assert.match(err.apiErrorMessage ?? "", /approver/);
  });

  test("an unknown authorization model is a 400 'authorization_model_not_found', as in OpenFGA", async () => {
    // OpenFGA answers every ErrorCode (2000-3999) with HTTP 400, so the SDK raises
    // FgaApiValidationError; only store_id_not_found / undefined_endpoint are 404s.
    const ghostModel = "01ARZ3NDEKTSV4RRFFQ69G5FAV";
    const failures: string[] = [];
    for (const [what, run] of [
      ["check", () => fga.check({ user: "user:anne", relation: "viewer", object: "document:readme" }, { authorizationModelId: ghostModel })],
      ["readAuthorizationModel", () => fga.readAuthorizationModel({ authorizationModelId: ghostModel })],
    ] as const) {
      const err = await rejection(run);
      const e = err as FgaApiError & { apiErrorCode?: string };
      if (!(err instanceof FgaApiValidationError) || e.apiErrorCode !== "authorization_model_not_found") {
        failures.push(`${what}: ${e.constructor.name} HTTP ${e.statusCode} ${JSON.stringify(e.responseData)}`);
      }
    }
    assert.deepEqual(failures, []);
  });

  test("a query on a store without any model is a 400 'latest_authorization_model_not_found'", async () => {
    const empty = sdk({ storeId: (await fga.createStore({ name: "sdk-no-model" })).id });
    const err = await rejection(() => empty.check({ user: "user:anne", relation: "viewer", object: "document:readme" }));
    const e = err as FgaApiError & { apiErrorCode?: string };
    assert.ok(err instanceof FgaApiValidationError, `${e.constructor.name} HTTP ${e.statusCode} ${JSON.stringify(e.responseData)}`);
    assert.equal(e.apiErrorCode, "latest_authorization_model_not_found");
    assert.equal((await empty.readLatestAuthorizationModel()).authorization_model, undefined, "reading the latest model is not an error");
  });

  test("a conditional tuple checked without its parameter is a validation error", async () => {
    const err = await rejection(() => fga.check({ user: "user:dave", relation: "viewer", object: "document:plan" }));
    assert.ok(err instanceof FgaApiValidationError, `expected FgaApiValidationError, got ${String(err)}`);
    assert.equal(err.apiErrorCode, "validation_error");
  });

  test("clientBatchCheck runs parallel checks (POST /check each), errors per item", async () => {
    const [checks, batches] = [await served("/stores/:store_id/check"), await served("/stores/:store_id/batch-check")];
    const res = await fga.clientBatchCheck([
      { user: "user:anne", relation: "viewer", object: "document:readme" },
      { user: "user:zoe", relation: "viewer", object: "document:readme" },
      { user: "user:dave", relation: "viewer", object: "document:plan", context: { hour: 9 } },
      { user: "user:anne", relation: "approver", object: "document:readme" },
    ]);
    const outcomes = res.result.map((r) => [r._request.user, r._request.relation, r.allowed, "error" in r ? r.error?.constructor.name : undefined]);
    assert.deepEqual(
      outcomes.sort(),
      [
        ["user:anne", "approver", undefined, "FgaApiValidationError"],
        ["user:anne", "viewer", true, undefined],
        ["user:dave", "viewer", true, undefined],
        ["user:zoe", "viewer", false, undefined],
      ].sort(),
    );
    assert.equal((await served("/stores/:store_id/check")) - checks, 4);
    assert.equal((await served("/stores/:store_id/batch-check")) - batches, 0);
  });

  test("batchCheck (server-side: one POST /batch-check) answers per correlation id", async () => {
    const [checks, batches] = [await served("/stores/:store_id/check"), await served("/stores/:store_id/batch-check")];
    const res = await fga.batchCheck({
      checks: [
        { correlationId: "a", user: "user:anne", relation: "viewer", object: "document:readme" },
        { correlationId: "b", user: "user:zoe", relation: "viewer", object: "document:readme" },
        {
          correlationId: "c",
          user: "user:erin",
          relation: "viewer",
          object: "document:readme",
          contextualTuples: { tuple_keys: [tk("group:eng", "member", "user:erin")] },
        },
        { correlationId: "d", user: "user:dave", relation: "viewer", object: "document:plan", context: { hour: 16 } },
        { correlationId: "e", user: "user:anne", relation: "approver", object: "document:readme" },
      ],
    });
    const by = new Map(res.result.map((r) => [r.correlationId, r]));
    assert.equal(by.size, 5);
    assert.equal(by.get("a")?.allowed, true);
    assert.equal(by.get("b")?.allowed, false);
    assert.equal(by.get("c")?.allowed, true);
    assert.equal(by.get("d")?.allowed, true);
    assert.equal(by.get("e")?.allowed, false);
    assert.equal(by.get("e")?.error?.input_error, "validation_error");
    assert.equal(by.get("a")?.error, undefined);
    assert.equal((await served("/stores/:store_id/batch-check")) - batches, 1);
    assert.equal((await served("/stores/:store_id/check")) - checks, 0);
  });

  test("batchCheck item errors use OpenFGA's error names (input_error)", async () => {
    // A conditional tuple without its parameter: OpenFGA reports input_error 'validation_error'.
    const res = await fga.batchCheck({ checks: [{ correlationId: "x", user: "user:dave", relation: "viewer", object: "document:plan" }] });
    assert.equal(res.result[0]?.error?.input_error, "validation_error", JSON.stringify(res.result[0]?.error));
  });

  test("expand returns the userset tree of a relation", async () => {
    const res = await fga.expand({ relation: "viewer", object: "document:readme" });
    const root = res.tree?.root;
    assert.equal(root?.name, "document:readme#viewer");
    const nodes = root?.union?.nodes ?? [];
    assert.equal(nodes.length, 3, JSON.stringify(root));
    assert.deepEqual(nodes[0]?.leaf?.users?.users, ["group:eng#member"]);
    assert.equal(nodes[1]?.leaf?.computed?.userset, "document:readme#editor");
    assert.equal(nodes[2]?.leaf?.tupleToUserset?.tupleset, "document:readme#parent");
    assert.deepEqual(nodes[2]?.leaf?.tupleToUserset?.computed?.map((c) => c.userset), ["folder:docs#viewer"]);
  });

  test("listObjects, with context and contextual tuples", async () => {
    const list = async (user: string, extra: { context?: object; contextualTuples?: TupleKey[] } = {}) =>
      (await fga.listObjects({ user, relation: "viewer", type: "document", ...extra })).objects.sort();
    assert.deepEqual(await list("user:anne"), ["document:public", "document:readme"]);
    assert.deepEqual(await list("user:zoe"), ["document:public"]);
    assert.deepEqual(await list("user:dave", { context: { hour: 12 } }), ["document:plan", "document:public"]);
    assert.deepEqual(await list("user:dave", { context: { hour: 3 } }), ["document:public"]);
    assert.deepEqual(
      await list("user:erin", { contextualTuples: [tk("folder:docs", "viewer", "user:erin")] }),
      ["document:public", "document:readme"],
    );
    const streamed: string[] = [];
    for await (const r of fga.streamedListObjects({ user: "user:anne", relation: "viewer", type: "document" })) streamed.push(r.object);
    assert.deepEqual(streamed.sort(), ["document:public", "document:readme"]);
  });

  test("listUsers returns objects, usersets and wildcards", async () => {
    const users = async (object: string, filter: { type: string; relation?: string }) =>
      (await fga.listUsers({ object: { type: object.split(":")[0]!, id: object.split(":")[1]! }, relation: "viewer", user_filters: [filter] })).users;
    const direct = await users("document:readme", { type: "user" });
    assert.deepEqual(
      direct.map((u) => u.object?.id).sort(),
      ["anne", "bob", "carl"],
    );
    assert.ok(direct.every((u) => u.object?.type === "user"));
    assert.deepEqual(await users("document:readme", { type: "group", relation: "member" }), [{ userset: { type: "group", id: "eng", relation: "member" } }]);
    assert.deepEqual(await users("document:public", { type: "user" }), [{ wildcard: { type: "user" } }]);
    const ctx = await fga.listUsers({
      object: { type: "document", id: "plan" },
      relation: "viewer",
      user_filters: [{ type: "user" }],
      context: { hour: 10 },
    });
    assert.deepEqual(ctx.users, [{ object: { type: "user", id: "dave" } }]);
  });

  test("listRelations (client-side over checks)", async () => {
    const rel = async (user: string) =>
      (await fga.listRelations({ user, object: "document:readme", relations: ["owner", "editor", "viewer", "parent"] })).relations.sort();
    assert.deepEqual(await rel("user:anne"), ["editor", "owner", "viewer"]);
    assert.deepEqual(await rel("user:bob"), ["viewer"]);
    assert.deepEqual(await rel("user:zoe"), []);
  });

  test("read: filters and pagination", async () => {
    const all = async (body: { object?: string; relation?: string; user?: string }, pageSize: number) => {
      const out: TupleKey[] = [];
      let token: string | undefined;
      for (let i = 0; i < 100; i++) {
        const page = await fga.read(body, { pageSize, ...(token ? { continuationToken: token } : {}) });
        assert.ok(page.tuples.length <= pageSize);
        for (const t of page.tuples) {
          assert.ok(!Number.isNaN(Date.parse(t.timestamp)), "each tuple has a timestamp");
          out.push(t.key);
        }
        token = page.continuation_token;
        if (!token) break;
      }
      return out;
    };
    const key = (t: TupleKey) => `${t.object}#${t.relation}@${t.user}`;
    const everything = await all({}, 2);
    assert.deepEqual(everything.map(key).sort(), SEED.map(key).sort());
    assert.equal(everything.find((t) => t.object === "document:plan")?.condition?.name, "in_office_hours");

    assert.deepEqual((await all({ object: "document:readme" }, 100)).map(key).sort(), [
      "document:readme#owner@user:anne",
      "document:readme#parent@folder:docs",
      "document:readme#viewer@group:eng#member",
    ]);
    assert.deepEqual((await all({ object: "document:readme", relation: "owner" }, 1)).map(key), ["document:readme#owner@user:anne"]);
    assert.deepEqual((await all({ object: "document:", user: "user:*" }, 10)).map(key), ["document:public#viewer@user:*"]);
    assert.deepEqual((await all({ object: "document:", relation: "viewer" }, 1)).map(key).sort(), [
      "document:plan#viewer@user:dave",
      "document:public#viewer@user:*",
      "document:readme#viewer@group:eng#member",
    ]);
  });

  test("write and delete in one transaction; the change log pages through every change in order", async () => {
    await fga.write({
      writes: [tk("group:ops", "member", "user:fay"), tk("group:ops", "member", "user:gus")],
      deletes: [{ object: "group:eng", relation: "member", user: "user:bob" }],
    });
    await fga.write({ deletes: [{ object: "group:ops", relation: "member", user: "user:gus" }] });
    assert.equal((await fga.check({ user: "user:bob", relation: "viewer", object: "document:readme" })).allowed, false);

    const changes: Array<[string, string]> = [];
    let token: string | undefined;
    for (let i = 0; i < 100; i++) {
      const page = await fga.readChanges(undefined, { pageSize: 2, ...(token ? { continuationToken: token } : {}) });
      assert.ok(page.changes.length <= 2);
      for (const c of page.changes) changes.push([c.operation, `${c.tuple_key.object}#${c.tuple_key.relation}@${c.tuple_key.user}`]);
      assert.ok(page.continuation_token, "readChanges always returns a token to resume from");
      if (page.changes.length === 0) break;
      token = page.continuation_token;
    }
    const W = TupleOperation.Write;
    const D = TupleOperation.Delete;
    const seedChanges = SEED.map((t): [string, string] => [W, `${t.object}#${t.relation}@${t.user}`]);
    assert.deepEqual(changes.slice(0, SEED.length).sort(), seedChanges.sort(), "the seed write");
    assert.deepEqual(changes.slice(SEED.length, SEED.length + 3).sort(), [
      [D, "group:eng#member@user:bob"],
      [W, "group:ops#member@user:fay"],
      [W, "group:ops#member@user:gus"],
    ].sort());
    assert.equal(changes.length, SEED.length + 4);
    assert.deepEqual(changes[changes.length - 1], [D, "group:ops#member@user:gus"], "the last write's delete comes last");

    const groupOnly = await fga.readChanges({ type: "group" }, { pageSize: 100 });
    assert.deepEqual(
      groupOnly.changes.map((c) => [c.operation, `${c.tuple_key.object}#${c.tuple_key.relation}@${c.tuple_key.user}`]),
      changes.filter(([, k]) => k.startsWith("group:")),
    );
    const none = await fga.readChanges({ type: "nosuchtype" });
    assert.deepEqual(none.changes, []);
  });

  test("readChanges honours startTime", async () => {
    const all = await fga.readChanges(undefined, { pageSize: 100 });
    assert.ok(all.changes.length > 0);
    const future = new Date(Date.now() + 3600_000).toISOString();
    const none = await fga.readChanges({ type: "", startTime: future }, { pageSize: 100 });
    assert.equal(none.changes.length, 0, `no change happened after ${future}, got ${none.changes.length} of ${all.changes.length}`);
    const past = await fga.readChanges({ type: "", startTime: "2000-01-01T00:00:00Z" }, { pageSize: 100 });
    assert.equal(past.changes.length, all.changes.length);
  });

  test("a transactional write is all or nothing: an invalid tuple is 'invalid_tuple' and nothing is written", async () => {
    const err = await rejection(() =>
      fga.write({ writes: [tk("group:qa", "member", "user:hal"), tk("document:readme", "owner", "group:eng#member")] }),
    );
    assert.ok(err instanceof FgaApiValidationError, `expected FgaApiValidationError, got ${String(err)}`);
    assert.equal(err.apiErrorCode, "invalid_tuple");
    assert.deepEqual((await fga.read({ object: "group:qa" })).tuples, []);
  });

  test("non-transaction mode writes chunk by chunk and reports each tuple's status", async () => {
    const res = await fga.write(
      {
        writes: [tk("group:qa", "member", "user:ivy"), tk("document:readme", "owner", "group:eng#member"), tk("group:qa", "member", "user:jan")],
        deletes: [{ object: "group:ops", relation: "member", user: "user:nobody" }],
      },
      { transaction: { disable: true, maxPerChunk: 1, maxParallelRequests: 2 } },
    );
    const status = new Map(res.writes.map((w) => [w.tuple_key.user, w]));
    assert.equal(status.get("user:ivy")?.status, ClientWriteStatus.SUCCESS);
    assert.equal(status.get("user:jan")?.status, ClientWriteStatus.SUCCESS);
    assert.equal(status.get("group:eng#member")?.status, ClientWriteStatus.FAILURE);
    assert.ok(status.get("group:eng#member")?.err instanceof FgaApiValidationError);
    assert.equal(res.deletes.length, 1);
    assert.equal(res.deletes[0]?.status, ClientWriteStatus.FAILURE, "deleting a missing tuple fails");
    const qa = (await fga.read({ object: "group:qa" })).tuples.map((t) => t.key.user).sort();
    assert.deepEqual(qa, ["user:ivy", "user:jan"]);
  });

  test("writing an existing tuple fails like OpenFGA: 400 'write_failed_due_to_invalid_input'", async () => {
    const err = await rejection(() => fga.writeTuples([tk("group:qa", "member", "user:ivy")]));
    assert.ok(err instanceof FgaApiError, String(err));
    // OpenFGA answers 400 (a write_failed_due_to_invalid_input is an InvalidArgument), so its
    // SDKs raise FgaApiValidationError and expose apiErrorCode; a 409 is a plain FgaApiError.
    assert.equal(err.statusCode, 400, `status ${err.statusCode}: ${JSON.stringify(err.responseData)}`);
    assert.ok(err instanceof FgaApiValidationError);
    assert.equal(err.apiErrorCode, "write_failed_due_to_invalid_input");
  });

  test("deleting a missing tuple fails with 'write_failed_due_to_invalid_input'", async () => {
    const err = await rejection(() => fga.deleteTuples([{ object: "group:qa", relation: "member", user: "user:nobody" }]));
    assert.ok(err instanceof FgaApiValidationError, String(err));
    assert.equal(err.apiErrorCode, "write_failed_due_to_invalid_input");
  });

  test("conflict options: onDuplicateWrites and onMissingDeletes 'ignore'", async () => {
    const changeCount = async () => {
      let n = 0;
      let token: string | undefined;
      for (let i = 0; i < 100; i++) {
        const page = await fga.readChanges(undefined, { pageSize: 100, ...(token ? { continuationToken: token } : {}) });
        if (page.changes.length === 0) return n;
        n += page.changes.length;
        token = page.continuation_token;
      }
      throw new Error("the change log does not end");
    };
    const before = await changeCount();
    await fga.write(
      { writes: [tk("group:qa", "member", "user:ivy"), tk("group:qa", "member", "user:kim")], deletes: [{ object: "group:qa", relation: "member", user: "user:nobody" }] },
      {
        conflict: {
          onDuplicateWrites: ClientWriteRequestOnDuplicateWrites.Ignore,
          onMissingDeletes: ClientWriteRequestOnMissingDeletes.Ignore,
        },
      },
    );
    const qa = (await fga.read({ object: "group:qa" })).tuples.map((t) => t.key.user).sort();
    assert.deepEqual(qa, ["user:ivy", "user:jan", "user:kim"]);
    assert.equal(await changeCount(), before + 1, "only the new tuple is a change");
  });

  test("on_duplicate / on_missing 'ignore' over raw HTTP; a duplicate with another condition still conflicts", async () => {
    const api = (body: unknown) => call(server.url, "POST", `/stores/${storeId}/write`, { token: server.adminToken, body });
    let r = await api({ writes: { tuple_keys: [tk("group:qa", "member", "user:ivy")], on_duplicate: "ignore" } });
    assert.equal(r.status, 200, r.text);
    r = await api({ deletes: { tuple_keys: [{ object: "group:qa", relation: "member", user: "user:ghost" }], on_missing: "ignore" } });
    assert.equal(r.status, 200, r.text);
    r = await api({ writes: { tuple_keys: [tk("document:plan", "viewer", "user:dave")], on_duplicate: "ignore" } });
    assert.ok(r.status >= 400 && r.status < 500, `a different condition is not a duplicate: ${r.status} ${r.text}`);
    assert.equal(r.json?.code, "write_failed_due_to_invalid_input");
    r = await api({ writes: { tuple_keys: [tk("group:qa", "member", "user:ivy")], on_duplicate: "sometimes" } });
    assert.equal(r.status, 400);
    assert.equal(r.json?.code, "validation_error");
  });

  test("writeAssertions / readAssertions round-trip", async () => {
    await fga.writeAssertions([
      { user: "user:anne", relation: "viewer", object: "document:readme", expectation: true },
      { user: "user:zoe", relation: "editor", object: "document:readme", expectation: false },
    ]);
    const res = await fga.readAssertions();
    assert.equal(res.authorization_model_id, modelId);
    assert.deepEqual(res.assertions, [
      { tuple_key: { user: "user:anne", relation: "viewer", object: "document:readme" }, expectation: true },
      { tuple_key: { user: "user:zoe", relation: "editor", object: "document:readme" }, expectation: false },
    ]);
    const empty = await fga.readAssertions({ authorizationModelId: plainModelId });
    assert.deepEqual(empty.assertions ?? [], []);
  });

  test("a credential without the needed scope is an FgaApiAuthenticationError", async () => {
    const { token } = await server.key({ scopes: ["check"] });
    const checker = sdk({ storeId, authorizationModelId: modelId, token });
    assert.equal((await checker.check({ user: "user:anne", relation: "viewer", object: "document:readme" })).allowed, true);
    const err = await rejection(() => checker.writeTuples([tk("group:qa", "member", "user:lou")]));
    assert.ok(err instanceof FgaApiAuthenticationError, String(err));
    assert.equal(err.statusCode, 403);
  });
});
