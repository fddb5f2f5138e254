/** failed_sign_ins: attempts inside the window, score growing with the count up to a cap. */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { FailedSignInsSignal } from "../../../src/policy/risk/signals/failed-sign-ins.js";
import { config, ctxFor, input, MINUTE, NOW } from "./helpers.js";

const run = (failedSignIns: number[] | undefined, raw: Record<string, unknown> = {}) => {
  const c = config(raw);
  const i = input(failedSignIns === undefined ? {} : { history: { failedSignIns } });
  return new FailedSignInsSignal(c).evaluate(i, ctxFor(i, c));
};
const ago = (...minutes: number[]) => minutes.map((m) => NOW - m * MINUTE);

describe("failed_sign_ins", () => {
  test("none, or none inside the window: nothing", () => {
    assert.equal(run(undefined), null);
    assert.equal(run([]), null);
    assert.equal(run(ago(15, 20, 60)), null); // exactly 15 minutes ago is outside
  });

  test("the score grows with the count inside the window", () => {
    assert.deepEqual(run(ago(1)), { score: 10, reason: "1 failed sign-in in the last 15 minutes" });
    assert.deepEqual(run(ago(14.9, 10, 1, 0, 30)), { score: 40, reason: "4 failed sign-ins in the last 15 minutes" });
  });

  test("capped at maxScore", () => {
    assert.equal(run(ago(1, 2, 3, 4, 5, 6, 7, 8))?.score, 50);
    assert.equal(run(ago(1, 2, 3, 4, 5, 6, 7, 8), { failedSignIns: { maxScore: 70 } })?.score, 70);
  });

  test("attempts after `now` are not counted (the engine judges the request at `now`)", () => {
    assert.equal(run([NOW + MINUTE]), null);
  });

  test("window and per-failure score are configurable", () => {
    assert.deepEqual(run(ago(1, 20, 59), { failedSignIns: { windowMinutes: 60, scorePerFailure: 5 } }), { score: 15, reason: "3 failed sign-ins in the last 60 minutes" });
  });
});
