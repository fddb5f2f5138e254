/**
 * The actor of audited changes: seen across awaits inside its request, kept apart between
 * concurrent requests (one finishing does not end the other's), `system` outside any, and still
 * right after a request that failed.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { currentActor, withActor } from "../../src/audit/actor.js";

const tick = (ms = 1) => new Promise((r) => setTimeout(r, ms));

test("the actor is seen across awaits, concurrent requests keep their own, and outside it is system", async () => {
  assert.equal(currentActor(), "system");
  const seen: string[] = [];
  const a = withActor("api_key:a", async () => {
    await tick(5);
    seen.push(`a:${currentActor()}`);
    await tick(20); // b has finished by now: a's actor must still be there
    seen.push(`a:${currentActor()}`);
  });
  const b = withActor("api_key:b", async () => {
    await tick(10);
    seen.push(`b:${currentActor()}`);
  });
  await Promise.all([a, b]);
  assert.deepEqual(seen, ["a:api_key:a", "b:api_key:b", "a:api_key:a"]);
  assert.equal(currentActor(), "system");
  // Again after everything settled (the storage was switched off in between).
  assert.equal(await withActor("api_key:c", async () => (await tick(), currentActor())), "api_key:c");
  assert.equal(withActor("api_key:d", () => currentActor()), "api_key:d");
});

test("a request that fails (thrown or rejected) does not leave its actor behind", async () => {
  assert.throws(() => withActor("api_key:x", () => {
    throw new Error("sync");
  }), /sync/);
  await assert.rejects(withActor("api_key:y", async () => {
    await tick();
    throw new Error("async");
  }), /async/);
  assert.equal(currentActor(), "system");
  assert.equal(await withActor("api_key:z", async () => (await tick(), currentActor())), "api_key:z");
});
