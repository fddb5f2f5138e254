/** new_device: missing, unknown and unregistered devices. */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { NewDeviceSignal } from "../../../src/policy/risk/signals/new-device.js";
import type { RiskInput } from "../../../src/policy/risk/types.js";
import { config, ctxFor, input } from "./helpers.js";

const s = new NewDeviceSignal(config());
const run = (over: Partial<RiskInput>) => {
  const i = input(over);
  return s.evaluate(i, ctxFor(i));
};
const history = { knownDeviceIds: ["laptop-1", "phone-2"] };

describe("new_device", () => {
  test("a known, registered device says nothing", () => {
    assert.equal(run({ device: { id: "laptop-1", registered: true }, history }), null);
  });

  test("no device, or no id: a caution (plus unregistered), more than an unknown device", () => {
    const none = run({ history });
    assert.deepEqual(none, { score: 45, reason: "request carries no device identifier; its registration with Tenet is not stated, so it is treated as unregistered" });
    assert.deepEqual(run({ device: { registered: true }, history }), { score: 30, reason: "request carries no device identifier" });
    assert.equal(run({ device: { id: "", registered: true }, history })?.score, 30);
    assert.ok(none!.score > run({ device: { id: "new-9" }, history })!.score - 1);
  });

  test("an id the subject has not used before", () => {
    assert.deepEqual(run({ device: { id: "new-9", registered: true }, history }), { score: 25, reason: 'device "new-9" has not been used by this subject before' });
    assert.deepEqual(run({ device: { id: "new-9", registered: false }, history }), {
      score: 40,
      reason: 'device "new-9" has not been used by this subject before; it is not registered with Tenet',
    });
  });

  test("a known but unregistered device", () => {
    assert.deepEqual(run({ device: { id: "phone-2", registered: false }, history }), { score: 15, reason: 'device "phone-2" is known for this subject; it is not registered with Tenet' });
  });

  test("without device history, every device is new", () => {
    assert.deepEqual(run({ device: { id: "laptop-1", registered: true } }), { score: 25, reason: 'no device history for this subject, so device "laptop-1" is treated as new' });
    assert.equal(run({ device: { id: "laptop-1", registered: true }, history: {} })?.score, 25);
  });

  test("scores are configurable and the sum is capped at 100", () => {
    const big = new NewDeviceSignal(config({ newDevice: { missingDeviceScore: 80, unregisteredDeviceScore: 70 } }));
    const i = input({});
    assert.equal(big.evaluate(i, ctxFor(i))?.score, 100);
  });

  test("a long, hostile device id is quoted and cut short in the reason", () => {
    const r = run({ device: { id: `"\n${"x".repeat(200)}`, registered: true }, history });
    assert.ok(r!.reason.length < 140, r!.reason);
    assert.ok(!r!.reason.includes("\n"));
  });
});
