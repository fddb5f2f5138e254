import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { Outbox, OUTBOX } from "../../../src/policy/jit/outbox.js";
import { JIT_EFFECTS } from "../../../src/policy/jit/repository.js";
import { JitService } from "../../../src/policy/jit/service.js";
import type { DocumentsBackend } from "../../../src/storage/interfaces.js";
import { setup, type Fixture } from "./helpers.js";

/**
 * A crash between the commit (the request's compare-and-set) and its effects is simulated by an
 * outbox whose storage fails once: the approval is committed, its event and tuple are not. The
 * sweeper finishes the job.
 */
describe("JIT recovery after an interrupted operation", () => {
  let f: Fixture;
  before(async () => {
    f = await setup();
  });
  after(() => f.close());

  it("an approval committed but not applied is finished by sweep: event stored, tuple written", async () => {
    let failNext = false;
    const flaky: DocumentsBackend = {
      getDocument: (c, id) => f.ds.getDocument(c, id),
      listDocuments: (c, o) => f.ds.listDocuments(c, o),
      deleteDocument: (c, id) => f.ds.deleteDocument(c, id),
      putDocument: (c, id, body, v) => {
        if (failNext && c === OUTBOX) {
          failNext = false;
          return Promise.reject(new Error("the process died here"));
        }
        return f.ds.putDocument(c, id, body, v);
      },
    };
    const jit = new JitService({ documents: f.ds, policy: f.policy, outbox: new Outbox(flaky, { now: () => f.clock.now }), now: () => f.clock.now });
    const r = await jit.request({ storeId: f.storeId, requester: "user:anne", resource: "doc:crash", action: "editor", reason: "r", duration: "1h", approvers: { users: ["user:bob"] } });
    failNext = true;
    await assert.rejects(jit.approve(r.id, "user:bob", "ok"), /the process died here/);

    const stored = await jit.get(r.id);
    assert.equal(stored.status, "approved", "the commit stands");
    const approvedEvent = stored.history[1]!.eventId;
    assert.equal(await f.outbox.get(approvedEvent), undefined);
    assert.equal(await f.can("user:anne", "editor", "doc:crash"), false, "the tuple is not written yet");
    assert.ok(await f.ds.getDocument(JIT_EFFECTS, approvedEvent), "the intent is recorded");

    assert.equal((await jit.sweep()).recovered, 0, "an operation may still be in flight: left alone for 30 s");
    f.advance(31_000);
    assert.equal((await jit.sweep()).recovered, 1);
    assert.equal((await f.outbox.get(approvedEvent))?.event.type, "jit.approved");
    assert.equal(await f.can("user:anne", "editor", "doc:crash"), true);
    assert.equal(await f.ds.getDocument(JIT_EFFECTS, approvedEvent), undefined);
    assert.equal((await jit.activeGrant(f.storeId, "user:anne", "doc:crash", "editor"))?.id, r.id);
  });
});
