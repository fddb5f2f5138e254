/** RiskWatch: rises in a user's risk level become `risk.changed` events; decisions are unchanged. */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { IdentityEvents, type IdentityEvent } from "../../src/identity/events.js";
import { RiskWatch } from "../../src/identity/sessions/risk-watch.js";
import type { AccessRequest, RiskAssessment, RiskLevel } from "../../src/policy/access/types.js";

describe("risk watch", () => {
  const levels = new Map<string, RiskLevel>();
  const engine = { assessNow: (req: AccessRequest): RiskAssessment => ({ score: 0, level: levels.get(req.subject.id) ?? "low", reasons: [] }), prepare: async () => undefined };
  const req = (id: string) => ({ subject: { id } }) as unknown as AccessRequest;

  it("announces rises, not repeats, falls or a first sight at medium", async () => {
    const seen: IdentityEvent[] = [];
    const bus = new IdentityEvents();
    bus.on((e) => void seen.push(e));
    const watch = new RiskWatch(engine, bus);
    levels.set("user:a", "medium");
    assert.equal(watch.assessNow(req("user:a"), 0)?.level, "medium", "the assessment passes through");
    assert.equal(seen.length, 0, "first sight at medium sets the baseline");
    levels.set("user:a", "high");
    watch.assessNow(req("user:a"), 0);
    watch.assessNow(req("user:a"), 0);
    levels.set("user:a", "low");
    watch.assessNow(req("user:a"), 0);
    levels.set("user:a", "medium");
    watch.assessNow(req("user:a"), 0);
    levels.set("user:b", "critical");
    watch.assessNow(req("user:b"), 0);
    levels.set("service:x", "critical");
    watch.assessNow(req("service:x"), 0);
    await new Promise((r) => setImmediate(r));
    assert.deepEqual(
      seen.map((e) => (e.type === "risk.changed" ? `${e.userId}:${e.previous}->${e.current}` : e.type)),
      ["a:medium->high", "a:low->medium", "b:low->critical"],
    );
  });
});
