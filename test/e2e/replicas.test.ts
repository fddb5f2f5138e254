/**
 * Two `tenet serve` replicas on one PostgreSQL: a write on A is seen by B (at once with the
 * write's consistency token, and soon without it), and killing A in the middle of a write load
 * leaves B answering and loses no acknowledged write.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { randomBytes } from "node:crypto";
import { after, before, describe, test } from "node:test";
import { newApiKey } from "../../src/identity/api-keys/api-key.js";
import { PG_SKIP, PG_URL, createTestSchema, dropTestSchema } from "../storage/pg-test-schema.js";
import { type ServeProcess, startServe } from "./serve-process.js";

const MODEL = {
  schema_version: "1.1",
  type_definitions: [
    { type: "user" },
    {
      type: "doc",
      relations: { viewer: { this: {} } },
      metadata: { relations: { viewer: { directly_related_user_types: [{ type: "user" }] } } },
    },
  ],
};

describe("replicas on PostgreSQL", PG_SKIP ? { skip: PG_SKIP } : {}, () => {
  let schema: string;
  let a: ServeProcess;
  let b: ServeProcess;
  let storeId: string;
  const { token } = newApiKey({ name: "test", scopes: ["admin"], stores: ["*"] });
  const dirs: string[] = [];

  // Response bodies are OpenFGA JSON; the tests read the few fields they assert on.
  type Json = { id?: string; allowed?: boolean; [k: string]: unknown };
  async function call(base: string, method: string, path: string, body?: unknown): Promise<{ status: number; json: Json; headers: Headers }> {
    const res = await fetch(`${base}${path}`, {
      method,
      headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
      body: body === undefined ? null : JSON.stringify(body),
    });
    const text = await res.text();
    return { status: res.status, json: text ? (JSON.parse(text) as Json) : {}, headers: res.headers };
  }

  const MASTER_KEY = randomBytes(32).toString("base64");

  function replica(): Promise<ServeProcess> {
    const dataDir = mkdtempSync(join(tmpdir(), "tenet-replica-"));
    dirs.push(dataDir);
    const sep = PG_URL!.includes("?") ? "&" : "?";
    return startServe({
      TENET_DATABASE_URL: `${PG_URL}${sep}options=${encodeURIComponent(`-c search_path=${schema}`)}`,
      TENET_DATA_DIR: dataDir,
      TENET_ADMIN_TOKEN: token,
      // Replicas share the keys sealed in the database, so they share the master key that opens them.
      TENET_MASTER_KEY: MASTER_KEY,
      TENET_SYNC_INTERVAL_MS: "500",
    });
  }

  before(async () => {
    schema = await createTestSchema();
    // Start both at once (they race to migrate and install the key); if one fails, stop the
    // other so the test process can exit.
    const started = await Promise.allSettled([replica(), replica()]);
    const failed = started.find((r) => r.status === "rejected");
    if (failed) {
      for (const r of started) if (r.status === "fulfilled") await r.value.stop();
      throw (failed as PromiseRejectedResult).reason;
    }
    [a, b] = started.map((r) => (r as PromiseFulfilledResult<ServeProcess>).value) as [ServeProcess, ServeProcess];
    const store = await call(a.url, "POST", "/stores", { name: "replicas" });
    assert.equal(store.status, 201, JSON.stringify(store.json));
    storeId = String(store.json.id);
    const model = await call(a.url, "POST", `/stores/${storeId}/authorization-models`, MODEL);
    assert.equal(model.status, 201, JSON.stringify(model.json));
  });

  after(async () => {
    await Promise.all([a?.stop(), b?.stop()]);
    if (schema) await dropTestSchema(schema);
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  const check = (base: string, user: string, object: string, extra: Record<string, unknown> = {}) =>
    call(base, "POST", `/stores/${storeId}/check`, { tuple_key: { user, relation: "viewer", object }, ...extra });

  test("a write on A is visible on B at once with its consistency token", async () => {
    // B loads the store's index before the write, so it must learn of the write from A.
    assert.equal((await check(b.url, "user:anne", "doc:1")).json.allowed, false);
    const w = await call(a.url, "POST", `/stores/${storeId}/write`, { writes: { tuple_keys: [{ user: "user:anne", relation: "viewer", object: "doc:1" }] } });
    assert.equal(w.status, 200, JSON.stringify(w.json));
    const consistencyToken = w.headers.get("tenet-consistency-token");
    assert.match(consistencyToken ?? "", /^\d+$/);
    const r = await check(b.url, "user:anne", "doc:1", { consistency_token: consistencyToken });
    assert.equal(r.status, 200, JSON.stringify(r.json));
    assert.equal(r.json.allowed, true);
  });

  test("without a token, B sees A's writes within a second (change feed)", async () => {
    for (let i = 0; i < 5; i++) {
      await call(a.url, "POST", `/stores/${storeId}/write`, { writes: { tuple_keys: [{ user: "user:bob", relation: "viewer", object: `doc:feed${i}` }] } });
      const started = Date.now();
      for (;;) {
        if ((await check(b.url, "user:bob", `doc:feed${i}`)).json.allowed) break;
        assert.ok(Date.now() - started < 1000, "B did not see the write within 1 s");
        await new Promise((r) => setTimeout(r, 5));
      }
    }
  });

  test("killing A during a write load: B keeps answering and no acknowledged write is lost", async () => {
    const acked: string[] = [];
    let stop = false;
    let bErrors = 0;
    const writer = (async () => {
      for (let i = 0; !stop; i++) {
        try {
          const r = await call(a.url, "POST", `/stores/${storeId}/write`, {
            writes: { tuple_keys: [{ user: "user:carl", relation: "viewer", object: `doc:load${i}` }] },
          });
          if (r.status === 200) acked.push(`doc:load${i}`);
        } catch {
          return; // A is gone
        }
      }
    })();
    const reader = (async () => {
      while (!stop) {
        const r = await check(b.url, "user:carl", "doc:load0");
        if (r.status !== 200) bErrors++;
      }
    })();
    await new Promise((r) => setTimeout(r, 700));
    a.child.kill("SIGKILL");
    await writer;
    await new Promise((r) => setTimeout(r, 300));
    stop = true;
    await reader;
    assert.ok(acked.length > 5, `expected acknowledged writes before the kill, got ${acked.length}`);
    assert.equal(bErrors, 0, "B must keep answering while A dies");
    for (const object of acked) {
      const r = await check(b.url, "user:carl", object, { consistency: "HIGHER_CONSISTENCY" });
      assert.equal(r.json.allowed, true, `acknowledged write ${object} lost`);
    }
  });
});
