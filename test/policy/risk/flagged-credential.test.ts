/** flagged_credential: breach indicators, and unknown history treated as a caution. */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { FlaggedCredentialSignal } from "../../../src/policy/risk/signals/flagged-credential.js";
import type { SubjectHistory } from "../../../src/policy/risk/types.js";
import { config, ctxFor, input } from "./helpers.js";

const run = (history: SubjectHistory | undefined, raw: Record<string, unknown> = {}) => {
  const c = config(raw);
  const i = input(history === undefined ? {} : { history });
  return new FlaggedCredentialSignal(c).evaluate(i, ctxFor(i, c));
};

describe("flagged_credential", () => {
  test("a flagged credential scores high, with the reason given when it was flagged", () => {
    assert.deepEqual(run({ credential: { flagged: true, reason: "password found in a breach corpus" } }), {
      score: 90,
      reason: 'the subject\'s credential is flagged as compromised ("password found in a breach corpus"); reset it before trusting this sign-in',
    });
    assert.deepEqual(run({ credential: { flagged: true } }), { score: 90, reason: "the subject's credential is flagged as compromised; reset it before trusting this sign-in" });
  });

  test("not flagged, or a known empty history: nothing", () => {
    assert.equal(run({ credential: { flagged: false, reason: "cleared" } }), null);
    assert.equal(run({}), null);
  });

  test("no history at all: a small caution, configurable (0 turns it off)", () => {
    assert.deepEqual(run(undefined), { score: 10, reason: "no sign-in history is available for this subject, so a flagged credential cannot be ruled out" });
    assert.equal(run(undefined, { flaggedCredential: { historyUnavailableScore: 0 } }), null);
    assert.equal(run({ credential: { flagged: true } }, { flaggedCredential: { score: 100 } })?.score, 100);
  });
});
