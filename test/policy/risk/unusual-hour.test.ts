/** unusual_hour: the hour's share of the subject's sign-in histogram. */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { hourOfDay, UnusualHourSignal } from "../../../src/policy/risk/signals/unusual-hour.js";
import { config, ctxFor, HOUR, input, NOW } from "./helpers.js";

/** 9-to-5 habits: 10 sign-ins in each hour 08..16 UTC (90 in all), 1 at 22:00. */
const office = (): number[] => {
  const h = new Array<number>(24).fill(0);
  for (let i = 8; i <= 16; i++) h[i] = 10;
  h[22] = 1;
  return h;
};
const run = (hourHistogram: number[] | undefined, now: number, raw: Record<string, unknown> = {}) => {
  const c = config(raw);
  const i = input({ now, ...(hourHistogram === undefined ? {} : { history: { hourHistogram } }) });
  return new UnusualHourSignal(c).evaluate(i, ctxFor(i, c));
};
const at = (hour: number, minute = 15) => Date.UTC(2026, 2, 10, hour, minute);

describe("hourOfDay", () => {
  test("UTC, positive and negative offsets, dates before 1970", () => {
    assert.equal(hourOfDay(NOW, 0), 14);
    assert.equal(hourOfDay(NOW, 330), 20); // 14:30 + 5:30
    assert.equal(hourOfDay(NOW, -15 * 60 + 60), 0); // 14:30 - 14:00
    assert.equal(hourOfDay(Date.UTC(1969, 11, 31, 23, 59), 0), 23);
    assert.equal(hourOfDay(Date.UTC(2026, 0, 1, 0, 30), -60), 23);
  });
});

describe("unusual_hour", () => {
  test("a usual hour says nothing", () => {
    assert.equal(run(office(), at(9)), null);
    assert.equal(run(office(), at(16, 59)), null);
  });

  test("an hour never or rarely used scores, with the hour and share in the reason", () => {
    assert.deepEqual(run(office(), at(3)), { score: 20, reason: "sign-in between 03:00 and 03:59 UTC, an hour with 0 of this subject's 91 recent sign-ins (0.0%)" });
    // 1 of 91 is 1.1%: below the default 2%.
    assert.equal(run(office(), at(22))?.score, 20);
    assert.equal(run(office(), at(22), { unusualHour: { minShare: 0.01 } }), null);
  });

  test("too little history: no verdict", () => {
    const few = new Array<number>(24).fill(0);
    few[9] = 19;
    assert.equal(run(few, at(3)), null);
    few[9] = 20;
    assert.equal(run(few, at(3))?.score, 20);
    assert.equal(run(few, at(3), { unusualHour: { minSignIns: 21 } }), null);
    assert.equal(run(undefined, at(3)), null);
  });

  test("a malformed histogram gives no verdict rather than a wrong one", () => {
    assert.equal(run([1, 2, 3], at(3)), null);
    const neg = office();
    neg[0] = -5;
    assert.equal(run(neg, at(3)), null);
  });

  test("the configured timezone offset shifts the hour (and is named in the reason)", () => {
    // 03:15 UTC is 09:15 at UTC+06:00: a usual hour there.
    assert.equal(run(office(), at(3), { timezoneOffsetMinutes: 360 }), null);
    const r = run(office(), at(12), { timezoneOffsetMinutes: 360 });
    assert.match(r!.reason, /^sign-in between 18:00 and 18:59 UTC\+06:00/);
    assert.equal(run(office(), at(12) + 12 * HOUR, { timezoneOffsetMinutes: -90 })?.reason.includes("UTC-01:30"), true);
  });
});
