/** resource_sensitivity: classification to score; missing and unknown ones err on the risky side. */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { ResourceSensitivitySignal } from "../../../src/policy/risk/signals/resource-sensitivity.js";
import type { ResourceSignals } from "../../../src/policy/access/types.js";
import { config, ctxFor, input } from "./helpers.js";

const run = (resource: ResourceSignals | undefined, raw: Record<string, unknown> = {}) => {
  const c = config(raw);
  const i = input(resource === undefined ? {} : { resource });
  return new ResourceSensitivitySignal(c).evaluate(i, ctxFor(i, c));
};
const doc = (classification?: string): ResourceSignals =>
  (classification === undefined ? { type: "doc", id: "1" } : { type: "doc", id: "1", classification }) as ResourceSignals;

describe("resource_sensitivity", () => {
  test("public 0 (no reason), internal, confidential, restricted", () => {
    assert.equal(run(doc("public")), null);
    assert.deepEqual(run(doc("internal")), { score: 5, reason: "the resource is classified internal" });
    assert.deepEqual(run(doc("confidential")), { score: 15, reason: "the resource is classified confidential" });
    assert.deepEqual(run(doc("restricted")), { score: 30, reason: "the resource is classified restricted" });
  });

  test("a missing classification (or resource) is treated as confidential, with a reason", () => {
    const expected = { score: 15, reason: "the resource has no classification, so it is treated as confidential" };
    assert.deepEqual(run(doc()), expected);
    assert.deepEqual(run(undefined), expected);
    assert.deepEqual(run(doc("")), expected);
  });

  test("an unknown classification is treated as restricted", () => {
    assert.deepEqual(run(doc("restriced")), { score: 30, reason: 'the resource\'s classification "restriced" is not one Tenet knows, so it is treated as restricted' });
  });

  test("scores are configurable; a non-zero public score gives a reason", () => {
    assert.equal(run(doc("restricted"), { resourceSensitivity: { restricted: 60 } })?.score, 60);
    assert.equal(run(doc(), { resourceSensitivity: { confidential: 40 } })?.score, 40);
    assert.deepEqual(run(doc("public"), { resourceSensitivity: { public: 1 } }), { score: 1, reason: "the resource is classified public" });
  });
});
