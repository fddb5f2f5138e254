/**
 * `tenet serve` with an access configuration, end to end (bin/tenet.js in a child process, the
 * HTTP API, a real webhook receiver): the risk engine scores a denied address, named zones reach
 * policy conditions, a rule needing approval files a JIT request that, once approved through the
 * JIT API, turns the same decision into an allow with the grant, and the allow's notify
 * obligation arrives at the webhook, signed. Also: a bad configuration stops the start with one
 * line, risk data that does not load is a warning, and without a file the defaults apply.
 */
import assert from "node:assert/strict";
import { createServer, type IncomingHttpHeaders, type Server as HttpServer } from "node:http";
import type { AddressInfo } from "node:net";
import { existsSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { verifySignature } from "../../src/policy/jit/signature.js";
import { ULID, STACK_FRAME, adminToken, cleanup, http, lines, serve, tempDir, tenet, type Server } from "./cli-helpers.js";

after(cleanup);

const SECRET = "e2e-webhook-secret-0123456789";

const MODEL = {
  schema_version: "1.1",
  type_definitions: [
    { type: "user", relations: { manager: { this: {} } }, metadata: { relations: { manager: { directly_related_user_types: [{ type: "user" }] } } } },
    { type: "document", relations: { viewer: { this: {} } }, metadata: { relations: { viewer: { directly_related_user_types: [{ type: "user" }] } } } },
    { type: "iam_policy", relations: { editor: { this: {} } }, metadata: { relations: { editor: { directly_related_user_types: [{ type: "user" }] } } } },
  ],
};

const TUPLES = [
  { object: "document:1", relation: "viewer", user: "user:anne" },
  { object: "iam_policy:root", relation: "editor", user: "user:anne" },
  { object: "user:anne", relation: "manager", user: "user:mia" },
];

const ZONE_POLICY = `apiVersion: tenet.dev/v1
kind: AccessPolicy
metadata:
  name: corp-documents
spec:
  target:
    resources:
      - type: document
    actions: [viewer]
  rules:
    - name: readers-on-the-corporate-network
      effect: allow
      when: 'check("viewer") && "corp" in request.zones'
`;

const APPROVAL_POLICY = `apiVersion: tenet.dev/v1
kind: AccessPolicy
metadata:
  name: iam-changes
spec:
  target:
    resources:
      - type: iam_policy
    actions: [editor]
  rules:
    - name: approved-editors
      effect: allow
      when: check("editor")
      require:
        approval: { approvers: { manager: true }, duration: 2h }
        notify: [manager, owner, security]
`;

/** A webhook receiver that keeps every delivery. */
async function receiver(): Promise<{ server: HttpServer; url: string; got: Array<{ headers: IncomingHttpHeaders; body: string }> }> {
  const got: Array<{ headers: IncomingHttpHeaders; body: string }> = [];
  const server = createServer((req, res) => {
    let body = "";
    req.on("data", (d: Buffer) => (body += d.toString()));
    req.on("end", () => {
      got.push({ headers: req.headers, body });
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/tenet-events`, got };
}

async function until<T>(what: string, fn: () => T | undefined, timeoutMs = 15_000): Promise<T> {
  const t0 = Date.now();
  for (;;) {
    const v = fn();
    if (v !== undefined) return v;
    if (Date.now() - t0 > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe("tenet serve with an access configuration", () => {
  let srv: Server;
  let hook: Awaited<ReturnType<typeof receiver>>;
  let token: string;
  let storeId: string;
  const api = (method: string, path: string, body?: unknown) => http(srv.url, method, path, token, body);
  const decide = (body: unknown) => api("POST", `/stores/${storeId}/access/v1/decide`, body);
  const anneFrom = (ip: string) => ({ subject: { id: "user:anne" }, request: { ip }, resource: { type: "document", id: "1", classification: "internal" }, action: "viewer" });

  before(async () => {
    hook = await receiver();
    const dir = tempDir();
    // A relative deny-list file: resolved next to the configuration file, not the working directory.
    writeFileSync(join(dir, "deny.txt"), "# known bad\n203.0.113.0/24\n");
    const config = join(dir, "access.yaml");
    writeFileSync(
      config,
      `risk:
  ipReputation:
    denyFiles: [deny.txt]
zones:
  corp: ["10.0.0.0/8", "2001:db8::/32"]
  vpn: ["100.64.0.0/10"]
jit:
  maxDuration: 8h
  webhooks:
    - url: ${hook.url}
      secretEnv: E2E_HOOK_SECRET
notify:
  security: [user:secops]
`,
    );
    const dataDir = join(dir, "data");
    srv = await serve({ TENET_DATA_DIR: dataDir, E2E_HOOK_SECRET: SECRET }, ["--port", "0", "--access-config", config]);
    assert.doesNotMatch(srv.stderr(), /warning/, srv.stderr());
    token = adminToken(dataDir);
    storeId = (await api("POST", "/stores", { name: "access-e2e" })).json.id as string;
    assert.equal((await api("POST", `/stores/${storeId}/authorization-models`, MODEL)).status, 201);
    assert.equal((await api("POST", `/stores/${storeId}/write`, { writes: { tuple_keys: TUPLES } })).status, 200);
    const applied = await api("PUT", `/stores/${storeId}/access-policies`, {
      files: [
        { name: "corp-documents.yaml", content: ZONE_POLICY },
        { name: "iam-changes.yaml", content: APPROVAL_POLICY },
      ],
    });
    assert.equal(applied.status, 200, JSON.stringify(applied.json));
  });
  after(async () => {
    if (srv) assert.equal((await srv.stop()).code, 0, srv.stderr());
    hook?.server.close();
  });

  test("a request from an address on the deny list scores higher, with the reason in the decision", async () => {
    const clean = await decide(anneFrom("10.1.2.3"));
    const denied = await decide(anneFrom("203.0.113.7"));
    assert.equal(clean.status, 200, JSON.stringify(clean.json));
    assert.equal(denied.status, 200, JSON.stringify(denied.json));
    const cr = clean.json.risk as { score: number; level: string; reasons: Array<{ signal: string; reason: string }> };
    const dr = denied.json.risk as typeof cr;
    assert.ok(dr.score >= cr.score + 50, `denied ${dr.score} vs clean ${cr.score}`);
    assert.equal(dr.level, "critical");
    assert.notEqual(cr.level, "critical");
    assert.match(dr.reasons.find((r) => r.signal === "ip_reputation")?.reason ?? "", /client IP 203\.0\.113\.7 is on the deny list \(203\.0\.113\.0\/24, .*deny\.txt line 2\)/);
    assert.equal(cr.reasons.some((r) => r.signal === "ip_reputation"), false, JSON.stringify(cr));
    assert.ok(cr.reasons.length > 0, "the engine assessed the clean request too (device, sensitivity)");
  });

  test('a rule with `"corp" in request.zones` matches inside the zone (IPv4 and IPv6) and not outside', async () => {
    for (const ip of ["10.1.2.3", "2001:db8::5", "::ffff:10.9.9.9"]) {
      const d = await decide(anneFrom(ip));
      assert.equal(d.json.decision, "allow", `${ip}: ${JSON.stringify(d.json.reasons)}`);
      assert.deepEqual(d.json.rules, [{ policy: "corp-documents", rule: "readers-on-the-corporate-network", effect: "allow", outcome: "matched" }]);
    }
    for (const ip of ["192.0.2.10", "100.64.0.1", "2001:db9::5"]) {
      const d = await decide(anneFrom(ip));
      assert.equal(d.json.decision, "deny", `${ip}: ${JSON.stringify(d.json)}`);
    }
  });

  test("approval: pending with a JIT request and its approvers; approved through the JIT API, the same call allows with the grant; its notice reaches the webhook, signed", async () => {
    const ask = { subject: { id: "user:anne" }, request: { ip: "10.1.2.3" }, resource: { type: "iam_policy", id: "root", owner: "user:olga" }, action: "editor" };
    const first = await decide(ask);
    assert.equal(first.status, 200, JSON.stringify(first.json));
    assert.equal(first.json.decision, "pending", JSON.stringify(first.json));
    const pending = first.json.pending as { request_id: string; approvers: string[] };
    assert.match(pending.request_id, ULID);
    assert.deepEqual(pending.approvers, ["user:mia"], "the manager, from the relationship graph");

    const filed = await api("GET", `/stores/${storeId}/jit/requests/${pending.request_id}`);
    assert.equal(filed.status, 200, JSON.stringify(filed.json));
    assert.equal(filed.json.status, "pending");
    assert.equal(filed.json.requester, "user:anne");
    assert.equal(filed.json.resource, "iam_policy:root");
    assert.equal(filed.json.action, "editor");
    assert.equal(filed.json.duration_seconds, 7200, "the rule's duration");
    assert.deepEqual(filed.json.approvers, ["user:mia"]);

    const again = await decide(ask);
    assert.equal(again.json.decision, "pending");
    assert.equal((again.json.pending as { request_id: string }).request_id, pending.request_id, "the open request, not a second one");

    const approved = await api("POST", `/stores/${storeId}/jit/requests/${pending.request_id}/approve`, { approver: "user:mia", justification: "change window CHG-1234" });
    assert.equal(approved.status, 200, JSON.stringify(approved.json));
    assert.equal(approved.json.status, "approved");

    const allowed = await decide(ask);
    assert.equal(allowed.json.decision, "allow", JSON.stringify(allowed.json));
    const grant = allowed.json.grant as { id: string; expiresAt: string };
    assert.equal(grant.id, pending.request_id);
    assert.equal(grant.expiresAt, (approved.json.grant as { expires_at: string }).expires_at);
    assert.deepEqual(allowed.json.obligations, [
      { type: "notify", to: "manager" },
      { type: "notify", to: "owner" },
      { type: "notify", to: "security" },
    ]);

    // The notice for this decision, delivered by the webhook worker (it polls every second).
    const decisionId = allowed.json.decision_id as string;
    const delivery = await until("the access.notice delivery", () =>
      hook.got.find((g) => {
        const e = JSON.parse(g.body) as { type: string; data?: { decision_id?: string } };
        return e.type === "access.notice" && e.data?.decision_id === decisionId;
      }),
    );
    assert.ok(verifySignature(SECRET, delivery.headers["tenet-signature"] as string, delivery.body), `bad signature: ${String(delivery.headers["tenet-signature"])}`);
    const notice = JSON.parse(delivery.body) as { id: string; store_id: string; recipients: string[]; data: Record<string, unknown> };
    assert.equal(delivery.headers["tenet-event-id"], notice.id);
    assert.equal(notice.store_id, storeId);
    assert.deepEqual(notice.recipients, ["user:mia", "user:olga", "user:secops"]);
    assert.equal(notice.data.subject, "user:anne");
    assert.equal(notice.data.resource, "iam_policy:root");
    assert.equal(notice.data.action, "editor");

    // JIT's own events go through the same outbox and webhook.
    const types = hook.got.map((g) => (JSON.parse(g.body) as { type: string; request_id?: string }));
    assert.ok(types.some((e) => e.type === "jit.requested" && e.request_id === pending.request_id), JSON.stringify(types));
    for (const g of hook.got) assert.ok(verifySignature(SECRET, g.headers["tenet-signature"] as string, g.body), "every delivery is signed");
  });
});

describe("tenet serve: access configuration problems", () => {
  test("a configuration that does not validate: exit 1, one line naming the file and the field, nothing created, no secret echoed", async () => {
    const dir = tempDir();
    const config = join(dir, "access.yaml");
    writeFileSync(config, `zones:\n  corp: ["10.0.0.0/33"]\njit:\n  webhooks:\n    - { url: "https://h.example", secret: Sh0rtS3cret }\n`);
    const dataDir = join(dir, "data");
    const r = await tenet(["serve", "--port", "0"], { env: { TENET_DATA_DIR: dataDir, TENET_ACCESS_CONFIG: config } });
    assert.equal(r.code, 1, r.out + r.err);
    assert.equal(r.out, "");
    assert.doesNotMatch(r.err, STACK_FRAME);
    assert.equal(lines(r.err).length, 1, r.err);
    assert.ok(r.err.startsWith(`tenet serve: invalid access configuration in ${config}: `), r.err);
    assert.match(r.err, /zones\.corp\[0\]: must be an IP address or CIDR range/);
    assert.match(r.err, /jit\.webhooks\[0\]\.secret: is required: at least 16 characters/);
    assert.ok(!r.err.includes("Sh0rtS3cret"), r.err);
    assert.equal(existsSync(dataDir), false, "the data directory was created although the configuration is invalid");
  });

  test("a webhook secret variable that is not set, and a file that does not exist, name what to fix", async () => {
    const dir = tempDir();
    const config = join(dir, "access.yaml");
    writeFileSync(config, "jit:\n  webhooks:\n    - { url: https://h.example, secretEnv: TENET_TEST_UNSET_SECRET }\n");
    const unset = await tenet(["serve", "--port", "0", "--access-config", config], { env: { TENET_DATA_DIR: join(dir, "data") } });
    assert.equal(unset.code, 1, unset.err);
    assert.match(lines(unset.err)[0] ?? "", /jit\.webhooks\[0\]\.secretEnv: the environment variable TENET_TEST_UNSET_SECRET is not set$/);
    const missing = await tenet(["serve", "--port", "0", "--access-config", join(dir, "nope.yaml")], { env: { TENET_DATA_DIR: join(dir, "data") } });
    assert.equal(missing.code, 1, missing.err);
    assert.match(missing.err, /^tenet serve: invalid access configuration: cannot read .*nope\.yaml \(ENOENT\)\n$/);
  });

  test("risk data that does not load is a warning at start; the server runs, more cautious", async () => {
    const dir = tempDir();
    const config = join(dir, "access.yaml");
    writeFileSync(config, "risk:\n  ipReputation:\n    denyFiles: [missing-feed.txt]\n");
    const srv = await serve({ TENET_DATA_DIR: join(dir, "data"), TENET_ACCESS_CONFIG: config });
    try {
      assert.match(srv.stderr(), new RegExp(`tenet serve: warning: risk data: ${join(dir, "missing-feed.txt").replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}: cannot read the file \\(ENOENT\\)`));
    } finally {
      assert.equal((await srv.stop()).code, 0, srv.stderr());
    }
  });

  test("without a configuration file: the default risk engine assesses, and just-in-time access is served", async () => {
    const dir = tempDir();
    const dataDir = join(dir, "data");
    const srv = await serve({ TENET_DATA_DIR: dataDir });
    try {
      const t = adminToken(dataDir);
      const store = (await http(srv.url, "POST", "/stores", t, { name: "defaults" })).json.id as string;
      const d = await http(srv.url, "POST", `/stores/${store}/access/v1/decide`, t, { subject: { id: "user:anne" }, resource: { type: "document", id: "1" }, action: "viewer" });
      assert.equal(d.status, 200, JSON.stringify(d.json));
      const reasons = (d.json.risk as { reasons: Array<{ signal: string; reason: string }> }).reasons;
      assert.match(reasons.find((r) => r.signal === "ip_reputation")?.reason ?? "", /no client IP address/, JSON.stringify(reasons));
      const list = await http(srv.url, "GET", `/stores/${store}/jit/requests`, t);
      assert.equal(list.status, 200, JSON.stringify(list.json));
      assert.deepEqual(list.json.requests, []);
    } finally {
      assert.equal((await srv.stop()).code, 0, srv.stderr());
    }
  });
});
