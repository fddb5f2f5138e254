/** The configuration schema: defaults, and errors that name the field to change. */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { isTenetError } from "../../../src/errors.js";
import { parseRiskConfig } from "../../../src/policy/risk/config.js";

function errorsOf(raw: unknown, where = ""): { where?: string; message: string }[] {
  try {
    parseRiskConfig(raw, where);
  } catch (err) {
    assert.ok(isTenetError(err), String(err));
    assert.equal(err.code, "validation_error");
    assert.match(err.message, /^invalid risk configuration: /);
    return [...err.details];
  }
  assert.fail("expected a validation error");
}

describe("parseRiskConfig", () => {
  test("an empty object (or nothing) gives every default", () => {
    const c = parseRiskConfig({});
    assert.deepEqual(c.thresholds, { medium: 30, high: 60, critical: 85 });
    assert.equal(c.impossibleTravel.maxSpeedKmh, 1000);
    assert.equal(c.failedSignIns.windowMinutes, 15);
    assert.equal(c.ipReputation.scores.deny, 90);
    assert.deepEqual(c.weights, {});
    assert.deepEqual(parseRiskConfig(undefined), c);
    assert.deepEqual(parseRiskConfig(null), c);
  });

  test("partial sections keep the other defaults", () => {
    const c = parseRiskConfig({ ipReputation: { scores: { deny: 100 } }, thresholds: { critical: 95 } });
    assert.deepEqual(c.ipReputation.scores, { deny: 100, feed: 60, missingIp: 25, feedUnavailable: 20 });
    assert.deepEqual(c.thresholds, { medium: 30, high: 60, critical: 95 });
  });

  test("errors name the field, with the given prefix", () => {
    assert.deepEqual(errorsOf({ thresholds: { medium: 70 } }, "risk"), [{ where: "risk.thresholds.high", message: "must be greater than thresholds.medium (70)" }]);
    assert.deepEqual(errorsOf({ weights: { new_device: -1 } }).map((d) => d.where), ["weights.new_device"]);
    assert.deepEqual(errorsOf({ weights: { "Bad Name": 1 } }), [{ where: "weights.Bad Name", message: "key: must be a signal name (lower case, digits, _)" }]);
    assert.deepEqual(errorsOf({ impossibleTravel: { maxSpeedKmh: 0 } }).map((d) => d.where), ["impossibleTravel.maxSpeedKmh"]);
    assert.deepEqual(errorsOf({ ipReputation: { deny: ["10.0.0.0/8", "10.0.0.0/99"] } }), [
      { where: "ipReputation.deny[1]", message: "must be an IP address or CIDR range (e.g. 192.0.2.0/24, 2001:db8::/32)" },
    ]);
    assert.deepEqual(errorsOf({ ipReputation: { feeds: [{ name: "drop" }] } }).map((d) => d.where), ["ipReputation.feeds[0].file"]);
    assert.deepEqual(errorsOf({ unusualHour: { minShare: 2 } }).map((d) => d.where), ["unusualHour.minShare"]);
    assert.deepEqual(errorsOf({ resourceSensitivity: { restricted: 101 } }).map((d) => d.where), ["resourceSensitivity.restricted"]);
    assert.deepEqual(errorsOf({ timezoneOffsetMinutes: 30.5 }).map((d) => d.where), ["timezoneOffsetMinutes"]);
  });

  test("unknown keys are errors naming the key (a typo must not silently do nothing)", () => {
    assert.deepEqual(errorsOf({ impossibleTravel: { maxSpeedKph: 900 } }), [{ where: "impossibleTravel.maxSpeedKph", message: "is not a risk setting (check the spelling)" }]);
    assert.deepEqual(errorsOf({ treshold: {} }, "risk").map((d) => d.where), ["risk.treshold"]);
  });

  test("several errors are all reported", () => {
    assert.equal(errorsOf({ thresholds: { medium: "30" }, failedSignIns: { windowMinutes: -1 }, signalFailureScore: 500 }).length, 3);
  });

  test("not an object", () => {
    assert.deepEqual(errorsOf("yes").map((d) => d.where), ["(risk configuration)"]);
  });
});
