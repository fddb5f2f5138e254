/**
 * OpenFGA's conformance suites (vendored in test/conformance/openfga) against the SQLite
 * datastore: every test case writes its model and tuples through SQLite, then its last stage
 * runs again on an engine that loaded them back from SQLite. One database file for the run, a
 * new store per test case.
 */
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { parseSuite } from "../../src/policy/testing/suite.js";
import { SqliteDatastore } from "../../src/storage/sqlite/sqlite-datastore.js";
import { failureReport, runSuiteAndReload } from "../storage/conformance-replay.js";

const dir = new URL("../../../test/conformance/openfga/", import.meta.url);
const tmp = mkdtempSync(join(tmpdir(), "tenet-conformance-sqlite-"));
const shared = SqliteDatastore.open(join(tmp, "tenet.db"));
after(async () => {
  await shared.close();
  rmSync(tmp, { recursive: true, force: true });
});

for (const file of ["consolidated_1_1_tests.yaml", "abac_tests.yaml"]) {
  test(`OpenFGA conformance: ${file} (SQLite datastore)`, async () => {
    const { written, reloaded } = await runSuiteAndReload(parseSuite(readFileSync(new URL(file, dir), "utf8")), shared);
    assert.equal(written.failed, 0, `${written.failed} assertions failed:\n${failureReport(written)}`);
    assert.ok(written.passed > 100, `expected the suite to contain assertions, ran ${written.passed}`);
    assert.equal(reloaded.failed, 0, `${reloaded.failed} assertions failed after reloading from SQLite:\n${failureReport(reloaded)}`);
    assert.ok(reloaded.passed > 50, `expected the reload to run assertions, ran ${reloaded.passed}`);
  });
}
