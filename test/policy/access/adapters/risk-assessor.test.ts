/**
 * The risk engine as the decision point's RiskAssessor: synchronous once the subject's history is
 * cached, undefined before; the cache's time limit and size bound; one load per subject however
 * many decisions wait; a failing history store makes the assessment more cautious, not an error.
 * A real RiskEngine with the default signals and a real MemoryHistoryStore.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { EngineRiskAssessor } from "../../../../src/policy/access/adapters/risk-assessor.js";
import type { AccessRequest } from "../../../../src/policy/access/types.js";
import { parseRiskConfig } from "../../../../src/policy/risk/config.js";
import { defaultSignals } from "../../../../src/policy/risk/default-signals.js";
import { RiskEngine } from "../../../../src/policy/risk/engine.js";
import type { HistoryStore, SignInEvent } from "../../../../src/policy/risk/history.js";
import { MemoryHistoryStore } from "../../../../src/policy/risk/history-memory.js";
import { loadRiskResources } from "../../../../src/policy/risk/resources.js";
import type { SubjectHistory } from "../../../../src/policy/risk/types.js";

const NOW = Date.UTC(2026, 2, 10, 14, 30);
const config = parseRiskConfig({ ipReputation: { deny: ["203.0.113.0/24"] } });
const engine = new RiskEngine(config, defaultSignals(config, loadRiskResources(config)));

const req = (over: Partial<AccessRequest> = {}): AccessRequest => ({
  subject: { id: "user:anne" },
  device: { id: "laptop-1", registered: true },
  request: { ip: "198.51.100.20" },
  resource: { type: "document", id: "1", classification: "internal" },
  action: "viewer",
  ...over,
});

/** A history store that counts reads (and can be told to fail): wraps the real memory store. */
class CountingStore implements HistoryStore {
  gets = 0;
  failing = false;
  constructor(readonly inner = new MemoryHistoryStore(config)) {}
  async get(subjectId: string): Promise<SubjectHistory> {
    this.gets++;
    await new Promise((r) => setTimeout(r, 5));
    if (this.failing) throw new Error("history database unreachable");
    return this.inner.get(subjectId);
  }
  recordSignIn(e: SignInEvent) {
    return this.inner.recordSignIn(e);
  }
  flagCredential(subjectId: string, flag: { time: number; reason?: string }) {
    return this.inner.flagCredential(subjectId, flag);
  }
  clearCredentialFlag(subjectId: string) {
    return this.inner.clearCredentialFlag(subjectId);
  }
}

const clockAt = (t: number) => {
  const c = { t, now: () => c.t };
  return c;
};

describe("EngineRiskAssessor", () => {
  test("undefined until prepared; then the engine's assessment with the stored history, synchronously", async () => {
    const store = new CountingStore();
    await store.recordSignIn({ subjectId: "user:anne", time: NOW - 3600_000, success: true, ip: "198.51.100.20", deviceId: "laptop-1" });
    const risk = new EngineRiskAssessor(engine, store);
    assert.equal(risk.assessNow(req(), NOW), undefined);
    await risk.prepare(req());
    const got = risk.assessNow(req(), NOW);
    const history = await store.inner.get("user:anne");
    const { subject, device, request, resource } = req();
    assert.deepEqual(got, engine.assess({ subject, device: device!, request: request!, resource, now: NOW, history }));
    assert.ok(!got!.reasons.some((r) => r.signal === "new_device"), `a known, registered device is not new: ${JSON.stringify(got)}`);
    assert.equal(store.gets, 1);
    assert.deepEqual(risk.assessNow(req(), NOW), got, "answered from the cache");
    assert.equal(store.gets, 1);
  });

  test("a denied address raises the score, with the deny list named in the reason", async () => {
    const risk = new EngineRiskAssessor(engine, new CountingStore());
    await risk.prepare(req());
    const clean = risk.assessNow(req(), NOW)!;
    const denied = risk.assessNow(req({ request: { ip: "203.0.113.9" } }), NOW)!;
    assert.ok(denied.score >= clean.score + 60, `${denied.score} vs ${clean.score}`);
    assert.equal(denied.level, "critical");
    assert.match(denied.reasons.find((r) => r.signal === "ip_reputation")?.reason ?? "", /203\.0\.113\.9 is on the deny list \(203\.0\.113\.0\/24/);
  });

  test("history is trusted for ttlMs: a credential flagged meanwhile counts after the next load", async () => {
    const store = new CountingStore();
    const clock = clockAt(1_000_000);
    const risk = new EngineRiskAssessor(engine, store, { ttlMs: 2000, now: clock.now });
    await risk.prepare(req());
    await store.flagCredential("user:anne", { time: NOW, reason: "seen in a paste" });
    clock.t += 2000;
    assert.ok(!risk.assessNow(req(), NOW)!.reasons.some((r) => r.signal === "flagged_credential"), "still the cached history");
    clock.t += 1;
    assert.equal(risk.assessNow(req(), NOW), undefined, "expired");
    await risk.prepare(req());
    const r = risk.assessNow(req(), NOW)!;
    assert.match(r.reasons.find((x) => x.signal === "flagged_credential")?.reason ?? "", /flagged as compromised \("seen in a paste"\)/);
  });

  test("the cache holds at most maxSubjects (the oldest load dropped first)", async () => {
    const risk = new EngineRiskAssessor(engine, new CountingStore(), { maxSubjects: 2 });
    for (const id of ["user:a", "user:b", "user:c"]) await risk.prepare(req({ subject: { id } }));
    assert.equal(risk.size, 2);
    assert.equal(risk.assessNow(req({ subject: { id: "user:a" } }), NOW), undefined);
    assert.ok(risk.assessNow(req({ subject: { id: "user:b" } }), NOW));
    assert.ok(risk.assessNow(req({ subject: { id: "user:c" } }), NOW));
  });

  test("decisions waiting for the same subject share one load", async () => {
    const store = new CountingStore();
    const risk = new EngineRiskAssessor(engine, store);
    await Promise.all(Array.from({ length: 20 }, () => risk.prepare(req())));
    assert.equal(store.gets, 1);
    await Promise.all([risk.prepare(req({ subject: { id: "user:bob" } })), risk.prepare(req())]);
    assert.equal(store.gets, 3, "a later prepare loads again (and another subject loads its own)");
  });

  test("a failing history store: reported, and the subject is assessed as 'history unknown' (more caution, no error)", async () => {
    const store = new CountingStore();
    store.failing = true;
    const errors: string[] = [];
    const risk = new EngineRiskAssessor(engine, store, { onError: (err, s) => errors.push(`${s}: ${(err as Error).message}`) });
    await risk.prepare(req());
    assert.deepEqual(errors, ["user:anne: history database unreachable"]);
    const r = risk.assessNow(req(), NOW)!;
    assert.ok(r, "assessed from what is known");
    assert.match(r.reasons.find((x) => x.signal === "flagged_credential")?.reason ?? "", /no sign-in history is available/);
    assert.match(r.reasons.find((x) => x.signal === "new_device")?.reason ?? "", /no device history/);
    store.failing = false;
    assert.ok(risk.assessNow(req(), NOW), "the failure is cached like a load, so storage is not asked on every decision");
    assert.equal(store.gets, 1);
  });

  test("caller mistakes throw at once", () => {
    assert.throws(() => new EngineRiskAssessor({} as RiskEngine, new CountingStore()), /engine must be a RiskEngine/);
    assert.throws(() => new EngineRiskAssessor(engine, {} as HistoryStore), /history must be a HistoryStore/);
    assert.throws(() => new EngineRiskAssessor(engine, new CountingStore(), { ttlMs: 0 }), /ttlMs must be a positive integer/);
    assert.throws(() => new EngineRiskAssessor(engine, new CountingStore(), { maxSubjects: 1.5 }), /maxSubjects/);
  });
});
