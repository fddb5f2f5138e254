/**
 * OpenFGA's own conformance suites (Apache-2.0, vendored in test/conformance/openfga) run
 * against Tenet's engine: every check, list-objects and list-users assertion, including the
 * expected error codes, must pass.
 */
import { readFileSync } from "node:fs";
import { test } from "node:test";
import assert from "node:assert/strict";
import { parseSuite, runSuite } from "../../src/policy/testing/suite.js";

const dir = new URL("../../../test/conformance/openfga/", import.meta.url);

for (const file of ["consolidated_1_1_tests.yaml", "abac_tests.yaml"]) {
  test(`OpenFGA conformance: ${file} (memory datastore)`, async () => {
    const tests = parseSuite(readFileSync(new URL(file, dir), "utf8"));
    const r = await runSuite(tests);
    const report = r.failures.map((f) => `${f.test} [stage ${f.stage}] ${f.assertion}: ${f.message}`).join("\n");
    assert.equal(r.failed, 0, `${r.failed} assertions failed:\n${report}`);
    assert.ok(r.passed > 100, `expected the suite to contain assertions, ran ${r.passed}`);
  });
}
