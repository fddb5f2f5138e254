/**
 * The audit log through `tenet serve` as users run it (child processes, SQLite data directory):
 * decisions and changes recorded with who made them, searchable and provable over the API;
 * `tenet audit verify` clean, then naming the entry an attacker changed in the database;
 * `tenet audit proof`; decisions failing closed (503) while the audit table cannot be written;
 * and the process killed under load with every answered decision found in the stored log.
 */
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import Database from "better-sqlite3";
import { verifyCheckpoint } from "../../src/audit/checkpoint.js";
import { verifyInclusion } from "../../src/audit/merkle.js";
import { parseVerifierKey } from "../../src/audit/signed-note.js";
import { adminToken, cleanup, http, serve, tempDir, tenet } from "./cli-helpers.js";

after(cleanup);

const MODEL = {
  schema_version: "1.1",
  type_definitions: [{ type: "user" }, { type: "document", relations: { viewer: { this: {} } }, metadata: { relations: { viewer: { directly_related_user_types: [{ type: "user" }] } } } }],
};

const POLICY = `apiVersion: tenet.dev/v1
kind: AccessPolicy
metadata: { name: documents }
spec:
  target: { resources: [{ type: document }], actions: [viewer] }
  rules:
    - { name: readers, effect: allow, when: 'check("viewer")' }
`;

const MASTER = Buffer.alloc(32, 9).toString("base64");

async function setUp(dataDir: string, extra = "") {
  writeFileSync(join(dataDir, "access.yaml"), `audit:\n  checkpointEvery: 10\n  checkpointInterval: 1s\n${extra}`);
  const env = { TENET_DATA_DIR: dataDir, TENET_MASTER_KEY: MASTER, TENET_ACCESS_CONFIG: join(dataDir, "access.yaml") };
  const server = await serve(env);
  const token = adminToken(dataDir);
  const api = (method: string, path: string, body?: unknown) => http(server.url, method, path, token, body);
  const store = (await api("POST", "/stores", { name: "audited" })).json.id as string;
  assert.equal((await api("POST", `/stores/${store}/authorization-models`, MODEL)).status, 201);
  assert.equal((await api("POST", `/stores/${store}/write`, { writes: { tuple_keys: [{ object: "document:1", relation: "viewer", user: "user:anne" }] } })).status, 200);
  assert.equal((await api("PUT", `/stores/${store}/access-policies`, { files: [{ name: "p.yaml", content: POLICY }] })).status, 200);
  const decide = (user: string) => api("POST", `/stores/${store}/access/v1/decide`, { subject: { id: user }, resource: { type: "document", id: "1", classification: "internal" }, action: "viewer" });
  return { env, server, token, api, store, decide };
}

describe("audit log through tenet serve", () => {
  test("decisions and changes are recorded, searchable and provable; verify is clean, then names a changed entry", async () => {
    const dataDir = tempDir();
    const { env, server, api, store, decide } = await setUp(dataDir);
    let vkey: string;
    try {
      const allow = await decide("user:anne");
      assert.equal(allow.status, 200);
      assert.equal(allow.json.decision, "allow");
      const deny = await decide("user:bob");
      assert.equal(deny.json.decision, "deny");

      const found = await api("GET", `/audit/v1/entries?type=access.decision&subject=user:bob`);
      assert.equal(found.status, 200);
      const entries = found.json.entries as Array<{ seq: number; decision: string; event: { api: { request: { uid: string } }; actor: { authorizations: Array<{ decision: string }> } } }>;
      assert.equal(entries.length, 1);
      assert.equal(entries[0]!.decision, "deny");
      assert.equal(entries[0]!.event.api.request.uid, deny.json.decision_id, "the entry names the decision it records");

      const changes = await api("GET", `/audit/v1/entries?store_id=${store}&order=asc`);
      const types = (changes.json.entries as Array<{ type: string; subject: string }>).map((e) => e.type);
      for (const t of ["store.create", "model.write", "tuples.write", "access_policy.apply", "access.decision"]) assert.ok(types.includes(t), `${t} is recorded (${types.join(", ")})`);
      const modelWrite = (changes.json.entries as Array<{ type: string; subject: string }>).find((e) => e.type === "model.write")!;
      assert.match(modelWrite.subject, /^api_key:/, "who changed it");

      assert.equal((await api("GET", "/audit/v1/entries?page_size=0")).status, 400);
      assert.equal((await api("GET", "/audit/v1/entries?from=yesterday")).status, 400);
      assert.equal((await api("GET", "/audit/v1/entries?colour=blue")).status, 400);

      // Inclusion of the deny decision in the latest signed checkpoint, checked by the client.
      vkey = (await api("GET", "/audit/v1/public-key")).json.vkey as string;
      const key = parseVerifierKey(vkey);
      let cp: Record<string, unknown> = {};
      for (let i = 0; i < 40; i++) {
        cp = (await api("GET", "/audit/v1/checkpoint")).json;
        if ((cp.size as number) > entries[0]!.seq) break;
        await new Promise((r) => setTimeout(r, 100));
      }
      const signed = verifyCheckpoint(cp.note as string, key);
      const proof = (await api("GET", `/audit/v1/proof/inclusion/${entries[0]!.seq}?size=${signed.size}`)).json;
      assert.ok(verifyInclusion(entries[0]!.seq, signed.size, Buffer.from(proof.leaf_hash as string, "base64"), (proof.audit_path as string[]).map((h) => Buffer.from(h, "base64")), signed.rootHash));
    } finally {
      assert.equal((await server.stop()).code, 0, server.stderr());
    }

    const ok = await tenet(["audit", "verify", "--key", vkey], { env });
    assert.equal(ok.code, 0, ok.out + ok.err);
    assert.match(ok.out, /^OK: \d+ entries read/m);
    const proof = await tenet(["audit", "proof", "1", "--key", vkey], { env });
    assert.equal(proof.code, 0, proof.err);
    assert.equal(JSON.parse(proof.out).verified, true);

    const db = new Database(join(dataDir, "tenet.db"));
    db.prepare(`UPDATE audit_entries SET event = replace(event, '"deny"', '"allow"') WHERE type = 'access.decision' AND decision = 'deny'`).run();
    const seq = (db.prepare(`SELECT seq FROM audit_entries WHERE type = 'access.decision' AND decision = 'deny'`).get() as { seq: number }).seq;
    db.close();
    const bad = await tenet(["audit", "verify", "--key", vkey], { env });
    assert.equal(bad.code, 1);
    assert.match(bad.out, new RegExp(`PROBLEM modified: entry ${seq} was changed`));
    assert.match(bad.out, /^FAILED/m);
  });

  test("relationship queries are recorded when configured (OpenFGA Check, BatchCheck, ListObjects, ListUsers, AuthZEN without policies), not by default", async () => {
    const off = await setUp(tempDir());
    try {
      assert.equal((await off.api("POST", `/stores/${off.store}/check`, { tuple_key: { object: "document:1", relation: "viewer", user: "user:anne" } })).status, 200);
      const none = await off.api("GET", "/audit/v1/entries?type=access.decision");
      assert.deepEqual(none.json.entries, [], "off by default");
    } finally {
      await off.server.stop();
    }
    const on = await setUp(tempDir(), "  relationshipQueries: true\n");
    try {
      const other = (await on.api("POST", "/stores", { name: "plain" })).json.id as string;
      await on.api("POST", `/stores/${other}/authorization-models`, MODEL);
      await on.api("POST", `/stores/${other}/write`, { writes: { tuple_keys: [{ object: "document:9", relation: "viewer", user: "user:zoe" }] } });
      assert.equal((await on.api("POST", `/stores/${on.store}/check`, { tuple_key: { object: "document:1", relation: "viewer", user: "user:anne" } })).json.allowed, true);
      await on.api("POST", `/stores/${on.store}/batch-check`, { checks: [{ tuple_key: { object: "document:1", relation: "viewer", user: "user:bob" }, correlation_id: "c1" }] });
      const ev = await on.api("POST", `/stores/${other}/access/v1/evaluation`, { subject: { type: "user", id: "zoe" }, resource: { type: "document", id: "9" }, action: { name: "viewer" } });
      assert.equal(ev.json.decision, true);
      const listed = await on.api("POST", `/stores/${on.store}/list-objects`, { type: "document", relation: "viewer", user: "user:anne" });
      assert.deepEqual(listed.json.objects, ["document:1"]);
      const users = await on.api("POST", `/stores/${on.store}/list-users`, { object: { type: "document", id: "1" }, relation: "viewer", user_filters: [{ type: "user" }] });
      assert.equal(users.status, 200);
      const found = (await on.api("GET", "/audit/v1/entries?type=access.decision")).json.entries as Array<{
        subject: string;
        resource: string;
        decision: string;
        event: { api: { operation: string }; unmapped: { tenet: { reasons: string[] } } };
      }>;
      assert.deepEqual(
        found.map((e) => `${e.event.api.operation} ${e.subject} ${e.decision}`),
        ["openfga.check user:anne allow", "openfga.batch_check user:bob deny", "authzen.evaluation user:zoe allow", "openfga.list_objects user:anne allow", "openfga.list_users user:* allow"],
      );
      assert.equal(found[3]!.resource, "document:*");
      assert.deepEqual(found[3]!.event.unmapped.tenet.reasons, ["1 document objects on which user:anne has viewer"]);
      assert.equal(found[4]!.resource, "document:1");
      assert.deepEqual(found[4]!.event.unmapped.tenet.reasons, [`${(users.json.users as unknown[]).length} user users with viewer on document:1`]);
    } finally {
      await on.server.stop();
    }
  });

  test("decisions fail closed (503) while the audit log cannot be written, and recover", async () => {
    const dataDir = tempDir();
    const { server, decide, token } = await setUp(dataDir);
    try {
      assert.equal((await decide("user:anne")).status, 200);
      const db = new Database(join(dataDir, "tenet.db"));
      db.exec("ALTER TABLE audit_entries RENAME TO audit_entries_hidden");
      const refused = await decide("user:anne");
      assert.equal(refused.status, 503);
      assert.equal(refused.json.code, "audit_unavailable");
      assert.equal(refused.json.decision, undefined, "no decision in the body");
      const metrics = await (await fetch(`${server.url}/metrics`, { headers: { authorization: `Bearer ${token}` } })).text();
      assert.match(metrics, /^tenet_audit_healthy 0$/m);
      db.exec("ALTER TABLE audit_entries_hidden RENAME TO audit_entries");
      db.close();
      const again = await decide("user:anne");
      assert.equal(again.status, 200);
      assert.equal(again.json.decision, "allow");
    } finally {
      await server.stop();
    }
  });

  test("killed under load: every answered decision is in the stored log", async () => {
    const dataDir = tempDir();
    const { env, server, decide } = await setUp(dataDir);
    const answered: string[] = [];
    let stop = false;
    const worker = async () => {
      while (!stop) {
        try {
          const r = await decide(`user:u${answered.length % 50}`);
          if (r.status === 200) answered.push(r.json.decision_id as string);
        } catch {
          return; // the connection died with the process
        }
      }
    };
    const workers = Array.from({ length: 16 }, worker);
    await new Promise((r) => setTimeout(r, 1500));
    server.child.kill("SIGKILL");
    stop = true;
    await Promise.all(workers);
    await server.exited;
    assert.ok(answered.length > 100, `${answered.length} decisions answered before the kill`);

    const db = new Database(join(dataDir, "tenet.db"), { readonly: true });
    const stored = new Set((db.prepare(`SELECT json_extract(event, '$.api.request.uid') AS id FROM audit_entries WHERE type = 'access.decision'`).all() as Array<{ id: string }>).map((r) => r.id));
    db.close();
    const missing = answered.filter((id) => !stored.has(id));
    assert.deepEqual(missing, [], `${missing.length} of ${answered.length} answered decisions have no stored record`);
    // And what was stored still verifies (the unsigned tail is allowed: the process died).
    const verify = await tenet(["audit", "verify"], { env });
    assert.equal(verify.code, 0, verify.out + verify.err);
  });
});
