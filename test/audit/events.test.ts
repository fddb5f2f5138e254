/**
 * Audit events as the log stores and hashes them: OCSF fields, `metadata` with the log's
 * sequence number and time, sensitive values only as keyed HMACs, and text that is exactly the
 * JSON of the event (so any JSON reader, and verify, sees the same event).
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { authenticationEvent, changeEvent, decisionEvent, eventText, OCSF_CLASS, OCSF_VERSION, Sensitive } from "../../src/audit/events.js";

const sensitive = new Sensitive(Buffer.alloc(32, 9));

/** A parsed event, navigated freely (the assertions check the shape). */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Json = Record<string, any>;

const decision = decisionEvent(
  {
    decision: "deny",
    decisionId: "01JDECISION0000000000000000",
    storeId: "01JSTORE0000000000000000000",
    subject: { id: "user:anne", groups: ["eng"], acr: "http://schemas.openid.net/pape/policies/2007/06/multi-factor", amr: ["hwk"] },
    resource: { type: "document", id: 'q"1\\\n\u2028😀', classification: "confidential" },
    action: "viewer",
    policyVersion: 3,
    rules: [{ policy: "docs", rule: "deny-night", effect: "deny", outcome: "matched" }],
    risk: { score: 80, level: "high", reasons: [{ signal: "impossible_travel", score: 75, reason: "too fast" }] },
    reasons: ["denied by docs/deny-night"],
    request: { ip: "192.0.2.1", method: "GET", host: "docs.example.com", path: "/d/1", user_agent: "curl/8" },
    device: { id: "dev-1", compliant: false, managed: true },
    via: "access.decide",
    client: "api_key:k1",
    context: { token: "s3cret" },
  },
  sensitive,
);

describe("audit events", () => {
  test("the stored text is JSON: metadata with the sequence number and time, the event's own fields, then time", () => {
    const text = eventText(decision, 42, 1_796_000_000_123);
    const e = JSON.parse(text) as Json;
    assert.deepEqual(e.metadata, {
      version: OCSF_VERSION,
      product: { name: "Tenet", vendor_name: "Tenet", version: "0.1.0" },
      log_name: "tenet-audit",
      event_code: "access.decision",
      sequence: 42,
      logged_time: 1_796_000_000_123,
    });
    assert.equal(e.time, 1_796_000_000_123);
    assert.equal(e.class_uid, OCSF_CLASS.apiActivity);
    assert.equal(e.type_uid, 600302);
    assert.deepEqual(e.actor.authorizations, [{ decision: "deny", policy: { name: "docs", uid: "docs/deny-night", version: "3" } }]);
    assert.equal(e.resources[0].uid, 'document:q"1\\\n\u2028😀', "strings survive escaping");
    assert.equal(e.risk_score, 80);
    assert.equal(e.risk_level_id, 3);
    assert.deepEqual(e.device, { uid: "dev-1", is_compliant: false, is_managed: true });
    // Text and parse agree byte for byte: re-serialising gives the same text.
    assert.equal(JSON.stringify(e), text);
    assert.equal(text.indexOf('"sequence":'), text.indexOf('"sequence":42,"logged_time":'), "the first sequence is the log's");
  });

  test("sensitive context is stored only as a keyed HMAC", () => {
    const text = eventText(decision, 0, 0);
    assert.ok(!text.includes("s3cret"));
    const e = JSON.parse(text) as Json;
    assert.equal(e.unmapped.tenet.context_hmac, sensitive.digest({ token: "s3cret" }));
    assert.notEqual(new Sensitive(Buffer.alloc(32, 8)).digest({ token: "s3cret" }), e.unmapped.tenet.context_hmac, "the HMAC depends on the key");
  });

  test("change and authentication events; an event with no fields of its own is still JSON", () => {
    const change = changeEvent({ type: "tuples.write", activity: "update", storeId: "s1", actor: "api_key:k1", entity: { type: "store", uid: "s1" }, secrets: { token: "t0ken" } }, sensitive);
    const c = JSON.parse(eventText(change, 7, 5)) as Json;
    assert.equal(c.class_uid, OCSF_CLASS.entityManagement);
    assert.equal(c.metadata.event_code, "tuples.write");
    assert.equal(c.metadata.sequence, 7);
    assert.ok(!eventText(change, 7, 5).includes("t0ken"));
    const auth = authenticationEvent({ type: "authentication.failure", subject: "user:anne", success: false, reason: "bad passkey" }, sensitive);
    assert.equal((JSON.parse(eventText(auth, 1, 2)) as Json).class_uid, OCSF_CLASS.authentication);
    const bare = eventText({ index: { type: "x.y", classUid: 1 }, json: "{}" }, 3, 4);
    assert.deepEqual(JSON.parse(bare), { metadata: { version: OCSF_VERSION, product: { name: "Tenet", vendor_name: "Tenet", version: "0.1.0" }, log_name: "tenet-audit", event_code: "x.y", sequence: 3, logged_time: 4 }, time: 4 });
  });
});
