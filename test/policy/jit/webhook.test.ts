import assert from "node:assert/strict";
import { createServer, type IncomingHttpHeaders, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { after, before, describe, it } from "node:test";
import { webhookEndpoints, type WebhookEndpoint } from "../../../src/policy/jit/endpoints.js";
import type { TenetEvent } from "../../../src/policy/jit/events.js";
import { Outbox, type Delivery, type OutboxEntry } from "../../../src/policy/jit/outbox.js";
import { verifySignature } from "../../../src/policy/jit/signature.js";
import { WebhookWorker, backoffDelay } from "../../../src/policy/jit/webhook.js";
import { rejectsCode, setup, type Fixture } from "./helpers.js";

const SECRET = "s3cret-shared-with-the-receiver";

interface Received {
  headers: IncomingHttpHeaders;
  body: string;
}

/** A real HTTP receiver answering each POST with the next status of `statuses` (then 200). */
async function receiver(statuses: number[] = []): Promise<{ url: string; got: Received[]; server: Server; close(): Promise<void> }> {
  const got: Received[] = [];
  const server = createServer((req, res) => {
    let body = "";
    req.setEncoding("utf8");
    req.on("data", (c: string) => (body += c));
    req.on("end", () => {
      got.push({ headers: req.headers, body });
      res.statusCode = statuses.shift() ?? 200;
      res.end("ok");
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}/hooks`, got, server, close: () => new Promise<void>((resolve) => server.close(() => resolve())) };
}

/** A URL where nothing listens. */
async function deadUrl(): Promise<string> {
  const r = await receiver();
  await r.close();
  return r.url;
}

const event = (id: string): TenetEvent => ({ id, type: "jit.requested", created_at: new Date().toISOString(), request_id: "R1", recipients: ["user:bob"] });

describe("webhook delivery", () => {
  let f: Fixture;
  before(async () => {
    f = await setup();
  });
  after(() => f.close());

  it("validates endpoints when configured", () => {
    assert.deepEqual(webhookEndpoints([{ url: "https://hooks.example/tenet", secret: SECRET }]), [{ url: "https://hooks.example/tenet", secret: SECRET }]);
    assert.throws(() => webhookEndpoints([{ url: "ftp://hooks.example/x", secret: SECRET }]), /webhooks\[0\]\.url must use http or https, not 'ftp'/);
    assert.throws(() => webhookEndpoints([{ url: "not a url", secret: SECRET }]), /webhooks\[0\]\.url 'not a url' is not a URL/);
    assert.throws(() => webhookEndpoints([{ url: "https://u:p@hooks.example/", secret: SECRET }]), /must not hold credentials/);
    assert.throws(() => webhookEndpoints([{ url: "https://hooks.example/" }]), /webhooks\[0\]\.secret is required/);
    assert.throws(() => webhookEndpoints([{ url: "https://hooks.example/", secret: "short" }]), /at least 16 characters/);
    assert.throws(() => webhookEndpoints({ url: "https://hooks.example/" }), /must be a list/);
  });

  it("backs off 1 s, 2 s, 4 s … capped at 5 min", () => {
    assert.deepEqual([1, 2, 3, 4, 5].map((n) => backoffDelay(n)), [1000, 2000, 4000, 8000, 16000]);
    assert.equal(backoffDelay(12), 300_000);
    assert.equal(backoffDelay(50), 300_000);
  });

  it("POSTs the event as JSON with its id and a signature the receiver verifies", async () => {
    const rx = await receiver();
    const endpoints = webhookEndpoints([{ url: rx.url, secret: SECRET }]);
    const outbox = new Outbox(f.ds, { endpoints });
    const worker = new WebhookWorker(outbox, { endpoints });
    try {
      await outbox.enqueue(event("01JWEBHOOKSIGNATURE0000001"));
      const report = await worker.deliverDue();
      assert.deepEqual(report, { attempted: 1, delivered: 1, failed: 0, dead: 0 });
      assert.equal(rx.got.length, 1);
      const { headers, body } = rx.got[0]!;
      assert.equal(headers["content-type"], "application/json");
      assert.equal(headers["tenet-event-id"], "01JWEBHOOKSIGNATURE0000001");
      assert.match(String(headers["tenet-signature"]), /^t=\d+,v1=[0-9a-f]{64}$/);
      assert.equal(verifySignature(SECRET, headers["tenet-signature"] as string, body), true);
      assert.equal(verifySignature("another-secret-of-16+", headers["tenet-signature"] as string, body), false);
      assert.equal(verifySignature(SECRET, headers["tenet-signature"] as string, body.replace("user:bob", "user:eve")), false);
      assert.equal(JSON.parse(body).request_id, "R1");
      const entry = await outbox.get("01JWEBHOOKSIGNATURE0000001");
      assert.equal(entry?.status, "delivered");
      assert.equal(entry?.deliveries[0]?.attempts, 1);
      assert.deepEqual(await outbox.pendingIds(), []);
      assert.deepEqual(await worker.deliverDue(), { attempted: 0, delivered: 0, failed: 0, dead: 0 }, "delivered once");
    } finally {
      await rx.close();
    }
  });

  it("a receiver failing twice gets the event on the 3rd attempt, with the same event id", async () => {
    const rx = await receiver([503, 500]);
    const endpoints = webhookEndpoints([{ url: rx.url, secret: SECRET }]);
    const outbox = new Outbox(f.ds, { endpoints });
    const worker = new WebhookWorker(outbox, { endpoints });
    const t0 = Date.now();
    try {
      await outbox.enqueue(event("01JWEBHOOKFLAKY00000000001"));
      assert.deepEqual(await worker.deliverDue(t0), { attempted: 1, delivered: 0, failed: 1, dead: 0 });
      let d = (await outbox.get("01JWEBHOOKFLAKY00000000001"))!.deliveries[0]!;
      assert.equal(d.attempts, 1);
      assert.equal(d.lastError, "HTTP 503");
      assert.equal(d.nextAttemptAt, new Date(t0 + 1000).toISOString());
      assert.equal((await worker.deliverDue(t0 + 999)).attempted, 0, "not due before its backoff");
      assert.deepEqual(await worker.deliverDue(t0 + 1000), { attempted: 1, delivered: 0, failed: 1, dead: 0 });
      d = (await outbox.get("01JWEBHOOKFLAKY00000000001"))!.deliveries[0]!;
      assert.equal(d.nextAttemptAt, new Date(t0 + 1000 + 2000).toISOString());
      assert.deepEqual(await worker.deliverDue(t0 + 3000), { attempted: 1, delivered: 1, failed: 0, dead: 0 });
      assert.equal(rx.got.length, 3);
      assert.deepEqual(new Set(rx.got.map((g) => g.headers["tenet-event-id"])), new Set(["01JWEBHOOKFLAKY00000000001"]));
      const entry = await outbox.get("01JWEBHOOKFLAKY00000000001");
      assert.equal(entry?.status, "delivered");
      assert.equal(entry?.deliveries[0]?.attempts, 3);
    } finally {
      await rx.close();
    }
  });

  it("a receiver that is down: pending with attempts counted, then dead after max attempts, never dropped", async () => {
    const endpoints = webhookEndpoints([{ url: await deadUrl(), secret: SECRET }]);
    const outbox = new Outbox(f.ds, { endpoints });
    const dead: Array<[OutboxEntry, Delivery]> = [];
    const worker = new WebhookWorker(outbox, { endpoints, maxAttempts: 3, onDead: (e, d) => dead.push([e, d]) });
    const id = "01JWEBHOOKDOWN000000000001";
    await outbox.enqueue(event(id));
    let t = Date.now();
    for (const attempt of [1, 2]) {
      assert.deepEqual(await worker.deliverDue(t), { attempted: 1, delivered: 0, failed: 1, dead: 0 });
      const e = (await outbox.get(id))!;
      assert.equal(e.status, "pending");
      assert.equal(e.deliveries[0]!.attempts, attempt);
      assert.match(e.deliveries[0]!.lastError ?? "", /ECONNREFUSED|connect/);
      t += backoffDelay(attempt);
    }
    assert.deepEqual(await worker.deliverDue(t), { attempted: 1, delivered: 0, failed: 0, dead: 1 });
    const e = (await outbox.get(id))!;
    assert.equal(e.status, "dead");
    assert.equal(e.deliveries[0]!.attempts, 3);
    assert.equal(dead.length, 1);
    assert.equal(dead[0]![0].id, id);
    assert.deepEqual((await outbox.list({ status: "dead" })).map((x) => x.id), [id], "kept and reported");
    assert.equal((await worker.deliverDue(t + 3600_000)).attempted, 0, "a dead delivery is not retried");
  });

  it("an attempt that does not answer in time fails with a timeout", async () => {
    const server = createServer(() => undefined);
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
    const endpoints: WebhookEndpoint[] = webhookEndpoints([{ url, secret: SECRET }]);
    const outbox = new Outbox(f.ds, { endpoints });
    const worker = new WebhookWorker(outbox, { endpoints, timeoutMs: 200 });
    try {
      await outbox.enqueue(event("01JWEBHOOKSLOW000000000001"));
      assert.equal((await worker.deliverDue()).failed, 1);
      assert.match((await outbox.get("01JWEBHOOKSLOW000000000001"))!.deliveries[0]!.lastError ?? "", /timeout after 200 ms/);
    } finally {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });

  it("JIT events reach the receiver with the request id and recipients; start()/stop() run the worker", async () => {
    const rx = await receiver();
    const endpoints = webhookEndpoints([{ url: rx.url, secret: SECRET }]);
    const g = await setup({ endpoints });
    const worker = new WebhookWorker(g.outbox, { endpoints, intervalMs: 20 });
    try {
      const r = await g.jit.request({
        storeId: g.storeId,
        requester: "user:anne",
        resource: "doc:hooks",
        action: "editor",
        reason: "deploy",
        duration: "1h",
        approvers: { groups: ["group:sre"] },
      });
      await g.jit.approve(r.id, "user:carol", "ok");
      worker.start();
      for (let i = 0; i < 100 && rx.got.length < 2; i++) await new Promise((res) => setTimeout(res, 20));
      await worker.stop();
      const bodies = rx.got.map((x) => JSON.parse(x.body) as TenetEvent);
      assert.deepEqual(bodies.map((b) => b.type), ["jit.requested", "jit.approved"]);
      assert.equal(bodies[0]!.request_id, r.id);
      assert.deepEqual(bodies[0]!.recipients, ["user:carol", "user:dave"]);
      assert.equal(bodies[1]!.actor, "user:carol");
      assert.equal(bodies[1]!.request?.grant?.expires_at, new Date(g.clock.now + 3600_000).toISOString());
      for (const x of rx.got) assert.equal(verifySignature(SECRET, x.headers["tenet-signature"] as string, x.body), true);
    } finally {
      await worker.stop();
      await g.close();
      await rx.close();
    }
  });

  it("an event stored twice (a replayed operation) is one entry", async () => {
    const outbox = new Outbox(f.ds, { endpoints: [] });
    const a = await outbox.enqueue(event("01JWEBHOOKTWICE00000000001"));
    const b = await outbox.enqueue({ ...event("01JWEBHOOKTWICE00000000001"), type: "jit.other" });
    assert.equal(b.event.type, a.event.type);
    await rejectsCode(() => outbox.notify({ type: "ok.type", recipients: ["nobody"] }), "validation_error", /recipients\[0\]/);
  });
});
