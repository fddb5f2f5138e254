/** The engine: combining, weights, thresholds, ordering, determinism, failures, plug-ins. */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { defaultSignals } from "../../../src/policy/risk/default-signals.js";
import { RiskEngine } from "../../../src/policy/risk/engine.js";
import { loadRiskResources } from "../../../src/policy/risk/resources.js";
import type { RiskConfig } from "../../../src/policy/risk/config.js";
import type { RiskInput, RiskSignal } from "../../../src/policy/risk/types.js";
import { config, HOUR, input, MINUTE, NOW, tempDir, writeFile } from "./helpers.js";

const fixed = (name: string, score: number | null, reason = `${name} said so`): RiskSignal => ({
  name,
  evaluate: () => (score === null ? null : { score, reason }),
});

const habits = (): number[] => {
  const h = new Array<number>(24).fill(0);
  for (let i = 8; i <= 17; i++) h[i] = 10;
  return h;
};

/** A request nothing is wrong with, at a usual hour, from a known device. */
const calm = (): RiskInput =>
  input({
    subject: { id: "user:anne", acr: "http://schemas.openid.net/pape/policies/2007/06/multi-factor" },
    device: { id: "laptop-1", registered: true, managed: true },
    request: { ip: "192.0.2.10" },
    resource: { type: "doc", id: "plan", classification: "internal" },
    history: { signIns: [{ time: NOW - 3 * HOUR, ip: "192.0.2.11", deviceId: "laptop-1" }], failedSignIns: [], knownDeviceIds: ["laptop-1"], hourHistogram: habits() },
  });

/** Everything wrong at once. */
const alarming = (): RiskInput =>
  input({
    subject: { id: "user:anne" },
    device: { id: "never-seen", registered: false },
    request: { ip: "203.0.113.50" },
    resource: { type: "doc", id: "payroll", classification: "restricted" },
    now: Date.UTC(2026, 2, 10, 3, 0),
    history: {
      signIns: [{ time: Date.UTC(2026, 2, 10, 2, 30), ip: "192.0.2.11" }],
      failedSignIns: [Date.UTC(2026, 2, 10, 2, 55), Date.UTC(2026, 2, 10, 2, 58)],
      knownDeviceIds: ["laptop-1"],
      hourHistogram: habits(),
      credential: { flagged: true, reason: "breach" },
    },
  });

const defaultEngine = (raw: Record<string, unknown> = {}): RiskEngine => {
  const c = config(raw);
  return new RiskEngine(c, defaultSignals(c));
};

describe("RiskEngine", () => {
  test("a calm request: low, with only the resource's sensitivity as a reason", () => {
    assert.deepEqual(defaultEngine().assess(calm()), {
      score: 5,
      level: "low",
      reasons: [{ signal: "resource_sensitivity", score: 5, reason: "the resource is classified internal" }],
    });
  });

  test("everything wrong at once: critical, capped at 100, every signal explained, in order", () => {
    const a = defaultEngine().assess(alarming());
    assert.equal(a.score, 100);
    assert.equal(a.level, "critical");
    assert.deepEqual(a.reasons.map((r) => [r.signal, r.score]), [
      ["flagged_credential", 90],
      ["impossible_travel", 75],
      ["new_device", 40],
      ["resource_sensitivity", 30],
      ["failed_sign_ins", 20],
      ["unusual_hour", 20],
    ]);
    assert.match(a.reasons[1]!.reason, /Tokyo, JP .* \(London, GB\) 30 minutes earlier/);
  });

  test("deterministic: the same input twice gives deep-equal output, reasons included", () => {
    const e = defaultEngine();
    assert.deepEqual(e.assess(alarming()), e.assess(alarming()));
    assert.deepEqual(defaultEngine().assess(alarming()), e.assess(alarming()));
    assert.deepEqual(e.assess(calm()), e.assess(calm()));
  });

  test("reasons with equal contributions are ordered by signal name", () => {
    const e = new RiskEngine(config(), [fixed("zeta", 10), fixed("alpha", 10), fixed("mid", 20), fixed("beta", 10), fixed("quiet", null)]);
    assert.deepEqual(e.assess(input()).reasons.map((r) => r.signal), ["mid", "alpha", "beta", "zeta"]);
    assert.equal(e.assess(input()).score, 50);
  });

  test("the sum is rounded; reasons carry the weighted contribution", () => {
    const e = new RiskEngine(config({ weights: { a: 0.5, b: 1.25 } }), [fixed("a", 15), fixed("b", 10)]);
    assert.deepEqual(e.assess(input()), {
      score: 20, // 7.5 + 12.5
      level: "low",
      reasons: [{ signal: "b", score: 12.5, reason: "b said so" }, { signal: "a", score: 7.5, reason: "a said so" }],
    });
  });

  test("default thresholds: low < 30 ≤ medium < 60 ≤ high < 85 ≤ critical", () => {
    const levelAt = (n: number) => new RiskEngine(config(), [fixed("x", n)]).assess(input()).level;
    assert.deepEqual([0, 29, 30, 59, 60, 84, 85, 100].map(levelAt), ["low", "low", "medium", "medium", "high", "high", "critical", "critical"]);
  });

  test("weights and thresholds from the configuration change the level", () => {
    const i = alarming();
    i.history!.credential = { flagged: false };
    i.history!.signIns = [];
    // new_device 40 + restricted 30 + failed 20 + unusual hour 20 = 110 → capped, critical.
    assert.equal(defaultEngine().assess(i).level, "critical");
    // Unusual hour and failed sign-ins off, new devices halved: 20 + 30 = 50 → medium.
    const weighted = defaultEngine({ weights: { unusual_hour: 0, failed_sign_ins: 0, new_device: 0.5 } }).assess(i);
    assert.deepEqual([weighted.score, weighted.level], [50, "medium"]);
    assert.ok(!weighted.reasons.some((r) => r.signal === "unusual_hour"));
    // The same score under stricter thresholds is high.
    assert.equal(defaultEngine({ weights: { unusual_hour: 0, failed_sign_ins: 0, new_device: 0.5 }, thresholds: { medium: 20, high: 40, critical: 90 } }).assess(i).level, "high");
  });

  test("a request missing signals is riskier than the same request with them", () => {
    const bare = defaultEngine().assess(input({ subject: { id: "user:anne" } }));
    assert.deepEqual(bare.reasons.map((r) => r.signal).sort(), ["flagged_credential", "ip_reputation", "new_device", "resource_sensitivity"]);
    assert.equal(bare.score, 25 + 45 + 10 + 15);
    assert.equal(bare.level, "critical");
    assert.ok(bare.score > defaultEngine().assess(calm()).score);
  });

  test("a throwing signal counts as risky instead of failing open; nonsense scores are clamped", () => {
    const boom: RiskSignal = { name: "boom", evaluate: () => { throw new Error("feed index corrupt"); } };
    const e = new RiskEngine(config(), [boom, fixed("nan", Number.NaN), fixed("neg", -40), fixed("huge", 400)]);
    const a = e.assess(input());
    assert.deepEqual(a.reasons, [
      { signal: "huge", score: 100, reason: "huge said so" },
      { signal: "nan", score: 100, reason: "nan said so" },
      { signal: "boom", score: 50, reason: "the boom signal failed (feed index corrupt), so it counts as risky" },
      { signal: "neg", score: 0, reason: "neg said so" },
    ]);
    assert.equal(a.score, 100);
  });

  test("custom signals plug in next to the defaults and can be weighted", () => {
    const c = config({ weights: { vpn: 2 } });
    const vpn: RiskSignal = { name: "vpn", evaluate: (i) => (i.request?.user_agent?.includes("VPN") ? { score: 20, reason: "known VPN client" } : null) };
    const e = new RiskEngine(c, [...defaultSignals(c), vpn]);
    const i = calm();
    i.request!.user_agent = "ExampleVPN/1.0";
    const a = e.assess(i);
    assert.deepEqual(a.reasons[0], { signal: "vpn", score: 40, reason: "known VPN client" });
    assert.equal(a.score, 45);
  });

  test("caller mistakes throw at construction or call", () => {
    assert.throws(() => new RiskEngine(config({ weights: { ip_reputaton: 2 } }), defaultSignals(config())), /weights\.ip_reputaton: there is no signal named "ip_reputaton"/);
    assert.throws(() => new RiskEngine(config(), [fixed("a", 1), fixed("a", 2)]), /two signals are named "a"/);
    assert.throws(() => new RiskEngine({} as RiskConfig, []), /parsed risk configuration/);
    const e = defaultEngine();
    assert.throws(() => e.assess({ subject: { id: "x" } } as RiskInput), /input\.now/);
    assert.throws(() => e.assess({ subject: { id: "x" }, now: Number.NaN }), /input\.now/);
  });

  test("load problems of every signal are collected; a missing feed raises every score", () => {
    const dir = tempDir();
    writeFile(dir, "ok.txt", "203.0.113.0/24\n");
    const c = config({ ipReputation: { feeds: [{ name: "ok", file: "ok.txt" }, { name: "gone", file: "gone.txt" }] }, impossibleTravel: { geoDatabase: "gone.mmdb" } });
    const e = new RiskEngine(c, defaultSignals(c, loadRiskResources(c, { baseDir: dir })));
    assert.deepEqual(e.problems.map((p) => p.problem), ["cannot read the file (ENOENT)", "cannot read the geolocation database (ENOENT)"]);
    const healthy = defaultEngine().assess(calm());
    const degraded = e.assess(calm());
    assert.equal(degraded.score, healthy.score + 20 + 20);
    assert.deepEqual(degraded.reasons.map((r) => r.signal), ["impossible_travel", "ip_reputation", "resource_sensitivity"]);
  });

  test("the engine never reads the clock: only `now` moves failed sign-ins out of the window", () => {
    const e = defaultEngine();
    const i = calm();
    i.history!.failedSignIns = [NOW - 5 * MINUTE];
    assert.ok(e.assess(i).reasons.some((r) => r.signal === "failed_sign_ins"));
    assert.ok(!e.assess({ ...i, now: NOW + 20 * MINUTE }).reasons.some((r) => r.signal === "failed_sign_ins"));
  });
});
