/**
 * A replica that loses its PostgreSQL fails closed: requests get a retryable 503 (never an
 * allow from an index that may miss revocations), and it recovers by itself when the database
 * comes back. The database is "lost" by cutting a TCP proxy between Tenet and PostgreSQL.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { type AddressInfo, createServer, connect, type Server, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { newApiKey } from "../../src/identity/api-keys/api-key.js";
import { PG_SKIP, PG_URL, createTestSchema, dropTestSchema } from "../storage/pg-test-schema.js";
import { type ServeProcess, startServe } from "./serve-process.js";

/** A TCP proxy to PostgreSQL that can be cut (every connection dropped, new ones refused). */
class CuttableProxy {
  private server: Server | undefined;
  private readonly sockets = new Set<Socket>();
  port = 0;

  constructor(private readonly target: { host: string; port: number }) {}

  async start(port = 0): Promise<void> {
    this.server = createServer((client) => {
      const upstream = connect(this.target.port, this.target.host);
      for (const s of [client, upstream]) {
        this.sockets.add(s);
        s.on("close", () => this.sockets.delete(s));
        s.on("error", () => s.destroy());
      }
      client.pipe(upstream).pipe(client);
    });
    await new Promise<void>((r) => this.server!.listen(port, "127.0.0.1", r));
    this.port = (this.server.address() as AddressInfo).port;
  }

  async cut(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    if (this.server?.listening) await new Promise<void>((r) => this.server!.close(() => r()));
  }
}

describe("losing the database", PG_SKIP ? { skip: PG_SKIP } : {}, () => {
  let schema: string;
  let proxy: CuttableProxy;
  let tenet: ServeProcess;
  let storeId: string;
  const dataDir = mkdtempSync(join(tmpdir(), "tenet-dbloss-"));
  const { token } = newApiKey({ name: "test", scopes: ["admin"], stores: ["*"] });

  const call = async (method: string, path: string, body?: unknown) => {
    const res = await fetch(`${tenet.url}${path}`, {
      method,
      headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
      body: body === undefined ? null : JSON.stringify(body),
      signal: AbortSignal.timeout(10_000),
    });
    return { status: res.status, retryAfter: res.headers.get("retry-after"), json: (await res.json()) as { id?: string; allowed?: boolean; code?: string } };
  };
  const check = () => call("POST", `/stores/${storeId}/check`, { tuple_key: { user: "user:anne", relation: "viewer", object: "doc:1" } });

  before(async () => {
    schema = await createTestSchema();
    const url = new URL(PG_URL!);
    proxy = new CuttableProxy({ host: url.hostname, port: Number(url.port || 5432) });
    await proxy.start();
    url.host = `127.0.0.1:${proxy.port}`;
    url.searchParams.set("options", `-c search_path=${schema}`);
    tenet = await startServe({ TENET_DATABASE_URL: url.toString(), TENET_DATA_DIR: dataDir, TENET_ADMIN_TOKEN: token, TENET_SYNC_INTERVAL_MS: "200" });
    storeId = String((await call("POST", "/stores", { name: "dbloss" })).json.id);
    await call("POST", `/stores/${storeId}/authorization-models`, {
      schema_version: "1.1",
      type_definitions: [
        { type: "user" },
        { type: "doc", relations: { viewer: { this: {} } }, metadata: { relations: { viewer: { directly_related_user_types: [{ type: "user" }] } } } },
      ],
    });
    await call("POST", `/stores/${storeId}/write`, { writes: { tuple_keys: [{ user: "user:anne", relation: "viewer", object: "doc:1" }] } });
  });

  after(async () => {
    await tenet?.stop();
    await proxy?.cut();
    if (schema) await dropTestSchema(schema);
    rmSync(dataDir, { recursive: true, force: true });
  });

  test("requests fail closed with a retryable 503 while the database is gone, and recover", async () => {
    assert.equal((await check()).json.allowed, true);
    await proxy.cut();
    // Within the staleness bound (3 × 200 ms, at least 3 s) every answer becomes a 503.
    const deadline = Date.now() + 8000;
    let r = await check();
    while (r.status === 200 && Date.now() < deadline) {
      await new Promise((res) => setTimeout(res, 100));
      r = await check();
    }
    assert.equal(r.status, 503, `expected 503 after losing the database, got ${r.status}`);
    assert.equal(r.json.code, "unavailable");
    assert.ok(r.retryAfter, "a 503 carries Retry-After");
    const write = await call("POST", `/stores/${storeId}/write`, { writes: { tuple_keys: [{ user: "user:bob", relation: "viewer", object: "doc:1" }] } });
    assert.equal(write.status, 503, "writes are refused too, never half-done");

    await proxy.start(proxy.port);
    const back = Date.now() + 15_000;
    for (;;) {
      r = await check();
      if (r.status === 200) break;
      assert.ok(Date.now() < back, "the replica did not recover within 15 s of the database coming back");
      await new Promise((res) => setTimeout(res, 200));
    }
    assert.equal(r.json.allowed, true);
    const w2 = await call("POST", `/stores/${storeId}/write`, { writes: { tuple_keys: [{ user: "user:bob", relation: "viewer", object: "doc:1" }] } });
    assert.equal(w2.status, 200, JSON.stringify(w2.json));
  });
});
