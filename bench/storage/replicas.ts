/**
 * Cross-replica visibility delay: two `tenet serve` processes on one PostgreSQL schema. Each
 * sample writes one new tuple on A over HTTP and, once A has acknowledged it, polls Check on B
 * about every millisecond until B answers allowed. B learns of A's writes from the change feed
 * (LISTEN/NOTIFY), with the periodic re-read (TENET_SYNC_INTERVAL_MS, default 1 s) as backstop.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { Client } from "undici";
import { newApiKey } from "../../src/identity/api-keys/api-key.js";
import { TypeSystem } from "../../src/policy/model/typesystem.js";
import { type ServeProcess, startServe } from "../../test/e2e/serve-process.js";
import { urlWithSchema } from "./pg.js";

const MODEL_DSL = `model
  schema 1.1

type user

type team
  relations
    define member: [user]

type doc
  relations
    define owner: [user]
    define viewer: [user, team#member] or owner
`;

export interface VisibilityResult {
  /** Write acknowledged on A → first allowed answer from B, ms (one per sample). */
  afterAckMs: number[];
  /** Write sent to A → first allowed answer from B, ms. */
  afterSendMs: number[];
  /** Write round trip on A, ms. */
  writeMs: number[];
  /** Checks sent to B per sample (1 = allowed at the first poll). */
  polls: number[];
  timeouts: number;
  syncIntervalMs: string;
}

export interface ReplicaOptions {
  samples: number;
  warmup: number;
  pollIntervalMs: number;
  timeoutMs: number;
  log: (msg: string) => void;
}

class Api {
  private readonly client: Client;

  constructor(
    readonly url: string,
    private readonly token: string,
  ) {
    this.client = new Client(url, { keepAliveTimeout: 60_000, pipelining: 1 });
  }

  async post(path: string, body: unknown): Promise<{ status: number; json: Record<string, unknown> }> {
    const res = await this.client.request({
      method: "POST",
      path,
      headers: { authorization: `Bearer ${this.token}`, "content-type": "application/json" },
      body: JSON.stringify(body),
    });
    const text = await res.body.text();
    return { status: res.statusCode, json: text ? (JSON.parse(text) as Record<string, unknown>) : {} };
  }

  close(): Promise<void> {
    return this.client.close();
  }
}

export async function measureVisibility(schema: string, o: ReplicaOptions): Promise<VisibilityResult> {
  const { token } = newApiKey({ name: "bench", scopes: ["admin"], stores: ["*"] });
  const dirs: string[] = [];
  const servers: ServeProcess[] = [];
  const clients: Api[] = [];
  const replica = async (): Promise<ServeProcess> => {
    const dataDir = mkdtempSync(join(tmpdir(), "tenet-bench-replica-"));
    dirs.push(dataDir);
    // TENET_SYNC_INTERVAL_MS is left at its default.
    const env: NodeJS.ProcessEnv = { TENET_DATABASE_URL: urlWithSchema(schema), TENET_DATA_DIR: dataDir, TENET_ADMIN_TOKEN: token, TENET_LOG_LEVEL: "warn" };
    const s = await startServe(env);
    servers.push(s);
    return s;
  };
  try {
    // Both start at once; one that fails still lets the other be stopped (it is in `servers`).
    const started = await Promise.allSettled([replica(), replica()]);
    for (const r of started) if (r.status === "rejected") throw r.reason;
    const a = new Api(servers[0]!.url, token);
    const b = new Api(servers[1]!.url, token);
    clients.push(a, b);
    o.log(`replicas: A ${a.url}, B ${b.url}`);

    const store = await a.post("/stores", { name: "bench-replicas" });
    if (store.status !== 201) throw new Error(`create store: ${store.status} ${JSON.stringify(store.json)}`);
    const storeId = String(store.json.id);
    const model = await a.post(`/stores/${storeId}/authorization-models`, TypeSystem.from(MODEL_DSL).model);
    if (model.status !== 201) throw new Error(`write model: ${model.status} ${JSON.stringify(model.json)}`);

    const check = (i: number) => b.post(`/stores/${storeId}/check`, { tuple_key: { object: `doc:v${i}`, relation: "viewer", user: `user:v${i}` } });
    // B must have loaded the store (and seen the model) before the first sample, so that what is
    // measured is change propagation and not a first load: wait until B answers (denied).
    const loadDeadline = performance.now() + 10_000;
    for (;;) {
      const r = await check(-1);
      if (r.status === 200 && r.json.allowed === false) break;
      if (performance.now() > loadDeadline) throw new Error(`B does not answer checks: ${r.status} ${JSON.stringify(r.json)}`);
      await sleep(50);
    }

    const res: VisibilityResult = { afterAckMs: [], afterSendMs: [], writeMs: [], polls: [], timeouts: 0, syncIntervalMs: process.env.TENET_SYNC_INTERVAL_MS ?? "1000 (default)" };
    const total = o.warmup + o.samples;
    for (let i = 0; i < total; i++) {
      const tSend = performance.now();
      const w = await a.post(`/stores/${storeId}/write`, { writes: { tuple_keys: [{ object: `doc:v${i}`, relation: "viewer", user: `user:v${i}` }] } });
      const tAck = performance.now();
      if (w.status !== 200) throw new Error(`write on A: ${w.status} ${JSON.stringify(w.json)}`);
      let polls = 0;
      let tVisible = NaN;
      for (;;) {
        const tPoll = performance.now();
        const r = await check(i);
        polls++;
        if (r.status !== 200) throw new Error(`check on B: ${r.status} ${JSON.stringify(r.json)}`);
        if (r.json.allowed === true) {
          tVisible = performance.now();
          break;
        }
        if (tPoll - tAck > o.timeoutMs) break;
        const rest = o.pollIntervalMs - (performance.now() - tPoll);
        if (rest > 0.05) await sleep(rest);
      }
      if (i < o.warmup) continue;
      if (Number.isNaN(tVisible)) {
        res.timeouts++;
        continue;
      }
      res.afterAckMs.push(tVisible - tAck);
      res.afterSendMs.push(tVisible - tSend);
      res.writeMs.push(tAck - tSend);
      res.polls.push(polls);
      if ((i - o.warmup + 1) % 50 === 0) o.log(`replicas: ${i - o.warmup + 1}/${o.samples} samples`);
      // A short, varying pause so that samples do not lock into step with B's timers.
      await sleep(2 + (i % 7));
    }
    return res;
  } finally {
    await Promise.all(clients.map((c) => c.close().catch(() => undefined)));
    await Promise.all(servers.map((s) => s.stop()));
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  }
}
