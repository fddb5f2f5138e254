import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { MasterKey } from "../../../src/crypto/master-key.js";
import { CAEP, SUPPORTED_EVENTS } from "../../../src/identity/signals/events.js";
import { checkEndpoint, MAX_RECEIVERS, RECEIVERS, ReceiverRegistry } from "../../../src/identity/signals/receivers.js";
import type { Datastore } from "../../../src/storage/interfaces.js";
import { openDatastore } from "../../../src/storage/open.js";

describe("receiver registry", () => {
  let dir: string;
  let ds: Datastore;
  let master: MasterKey;
  let reg: ReceiverRegistry;
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), "tenet-ssf-reg-"));
    ds = await openDatastore({ dataDir: dir });
    master = MasterKey.generate().key;
    reg = new ReceiverRegistry({ documents: ds, sealer: master });
  });
  after(async () => {
    await ds.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("endpoints: https; http only for loopback when insecure is allowed; no credentials or fragments", () => {
    assert.equal(checkEndpoint("https://rp.example/caep", false), "https://rp.example/caep");
    assert.equal(checkEndpoint("http://localhost:8080/e", true), "http://localhost:8080/e");
    assert.equal(checkEndpoint("http://127.0.0.1:9/e", true), "http://127.0.0.1:9/e");
    assert.equal(checkEndpoint("http://[::1]:9/e", true), "http://[::1]:9/e");
    assert.throws(() => checkEndpoint("http://127.0.0.1:9/e", false), /must use https/);
    assert.throws(() => checkEndpoint("http://rp.example/e", true), /localhost, 127\.0\.0\.1 and \[::1\] only/);
    assert.throws(() => checkEndpoint("http://127.0.0.1.nip.io/e", true), /must use https/);
    assert.throws(() => checkEndpoint("ftp://rp.example/e", true), /not 'ftp'/);
    assert.throws(() => checkEndpoint("not a url", true), /not a URL/);
    assert.throws(() => checkEndpoint("https://u:p@rp.example/e", true), /must not hold credentials/);
    assert.throws(() => checkEndpoint("https://rp.example/e#x", true), /fragment/);
    assert.throws(() => checkEndpoint("", true), /non-empty/);
    assert.throws(() => checkEndpoint(42, true), /non-empty/);
    assert.throws(() => checkEndpoint(`https://rp.example/${"a".repeat(2100)}`, true), /at most 2048/);
  });

  it("creates with defaults, seals the authorization header, never reads it back", async () => {
    const r = await reg.create({ endpointUrl: "https://rp.example/caep", authorizationHeader: "Bearer sup3r-s3cret" });
    assert.equal(r.audience, "https://rp.example/caep", "audience defaults to the endpoint");
    assert.deepEqual(r.events, [...SUPPORTED_EVENTS]);
    assert.equal(r.status, "enabled");
    assert.equal(r.hasAuthorization, true);
    assert.equal(r.version, 1);
    assert.ok(!JSON.stringify(r).includes("sup3r-s3cret"));
    assert.ok(!JSON.stringify(await reg.list()).includes("sup3r-s3cret"));
    const raw = await ds.getDocument(RECEIVERS, r.id);
    assert.ok(!JSON.stringify(raw).includes("sup3r-s3cret"), "stored sealed, not in clear");
    assert.ok(!JSON.stringify(raw).includes(Buffer.from("Bearer sup3r-s3cret").toString("base64url")));
    const target = (await reg.deliveryTargets()).find((t) => t.id === r.id)!;
    assert.equal(target.authorization, "Bearer sup3r-s3cret");

    // Another master key cannot open it: delivery reports that instead of failing the round.
    const other = new ReceiverRegistry({ documents: ds, sealer: MasterKey.generate().key });
    const t2 = (await other.deliveryTargets()).find((t) => t.id === r.id)!;
    assert.equal(t2.authorization, undefined);
    assert.match(t2.authorizationError!, /cannot be opened/);
    assert.ok(!t2.authorizationError!.includes("sup3r"));

    const cleared = await reg.update(r.id, { authorizationHeader: null, description: "rp" });
    assert.equal(cleared.hasAuthorization, false);
    assert.equal(cleared.description, "rp");
    assert.equal(cleared.version, 2);
    assert.equal(await reg.delete(r.id), true);
    assert.equal(await reg.get(r.id), undefined);
    assert.equal(await reg.delete(r.id), false);
  });

  it("refuses bad input with validation_error", async () => {
    const bad = async (input: Parameters<ReceiverRegistry["create"]>[0], msg: RegExp) =>
      assert.rejects(reg.create(input), (err: { code?: string; message?: string }) => err.code === "validation_error" && msg.test(err.message ?? ""));
    await bad({ endpointUrl: "http://rp.example/e" }, /https/);
    await bad({ endpointUrl: "https://rp.example/e", events: [] }, /non-empty list/);
    await bad({ endpointUrl: "https://rp.example/e", events: ["https://schemas.openid.net/secevent/caep/event-type/token-claims-change"] }, /events\[0\] is not an event type Tenet sends/);
    await bad({ endpointUrl: "https://rp.example/e", audience: "" }, /audience/);
    await bad({ endpointUrl: "https://rp.example/e", authorizationHeader: "Bearer a\r\nX-Evil: 1" }, /control characters/);
    await bad({ endpointUrl: "https://rp.example/e", authorizationHeader: "Bearer é" }, /printable ASCII/);
    await bad({ endpointUrl: "https://rp.example/e", status: "on" as never }, /status must be one of/);
    await bad(null as never, /must be an object/);
    await assert.rejects(reg.update("01J00000000000000000000000", { status: "paused" }), { code: "not_found" });
    const r = await reg.create({ endpointUrl: "https://rp.example/x", events: [CAEP.riskLevelChange, CAEP.riskLevelChange] });
    assert.deepEqual(r.events, [CAEP.riskLevelChange], "duplicates collapse");
    await assert.rejects(reg.update(r.id, { status: "paused" }, r.version + 5), { code: "conflict" });
    assert.equal((await reg.setStatus(r.id, "paused", "maintenance")).statusReason, "maintenance");
    assert.equal((await reg.setStatus(r.id, "enabled")).statusReason, undefined);
  });

  it("pages in creation order and caps the number of receivers", async () => {
    for (const r of await reg.all()) await reg.delete(r.id);
    const ids: string[] = [];
    for (let i = 0; i < MAX_RECEIVERS; i++) ids.push((await reg.create({ endpointUrl: `https://rp${i}.example/e` })).id);
    await assert.rejects(reg.create({ endpointUrl: "https://one-too-many.example/e" }), { code: "conflict" });
    const first = await reg.list({ limit: 30 });
    assert.deepEqual(first.items.map((r) => r.id), ids.slice(0, 30));
    assert.equal(first.next, ids[29]);
    const rest = await reg.list({ after: first.next, limit: 100 });
    assert.equal(rest.items.length, 70);
    assert.equal(rest.next, undefined);
  });
});
