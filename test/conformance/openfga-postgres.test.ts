/**
 * OpenFGA's conformance suites (vendored in test/conformance/openfga) against the PostgreSQL
 * datastore, in a fresh schema dropped afterwards: every test case writes its model and tuples
 * through PostgreSQL, then its last stage runs again on an engine that loaded them back from
 * PostgreSQL. One pool for the run, a new store per test case. Skipped without
 * TENET_TEST_DATABASE_URL.
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { after, before, describe, test } from "node:test";
import { parseSuite } from "../../src/policy/testing/suite.js";
import { PostgresDatastore } from "../../src/storage/postgres/postgres-datastore.js";
import { failureReport, runSuiteAndReload } from "../storage/conformance-replay.js";
import { PG_SKIP, PG_URL, createTestSchema, dropTestSchema } from "../storage/pg-test-schema.js";

const dir = new URL("../../../test/conformance/openfga/", import.meta.url);

describe("OpenFGA conformance (PostgreSQL datastore)", PG_SKIP ? { skip: PG_SKIP } : {}, () => {
  let schema: string | undefined;
  let shared: PostgresDatastore | undefined;

  before(async () => {
    schema = await createTestSchema();
    shared = await PostgresDatastore.open({ connectionString: PG_URL!, schema });
  });

  after(async () => {
    await shared?.close();
    if (schema) await dropTestSchema(schema);
  });

  for (const file of ["consolidated_1_1_tests.yaml", "abac_tests.yaml"]) {
    test(file, async () => {
      const { written, reloaded } = await runSuiteAndReload(parseSuite(readFileSync(new URL(file, dir), "utf8")), shared!);
      assert.equal(written.failed, 0, `${written.failed} assertions failed:\n${failureReport(written)}`);
      assert.ok(written.passed > 100, `expected the suite to contain assertions, ran ${written.passed}`);
      assert.equal(reloaded.failed, 0, `${reloaded.failed} assertions failed after reloading from PostgreSQL:\n${failureReport(reloaded)}`);
      assert.ok(reloaded.passed > 50, `expected the reload to run assertions, ran ${reloaded.passed}`);
    });
  }
});
