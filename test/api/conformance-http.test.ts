/**
 * OpenFGA's conformance suites (vendored in test/conformance/openfga) through Tenet's HTTP API:
 * every model, tuple, check, list-objects and list-users assertion travels as JSON over HTTP,
 * and expected errors must come back with OpenFGA's error names (mapped to their numbers by
 * the HTTP target). One server and one SQLite datastore serve every test case; runSuite makes a
 * store per case through the API.
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { after, before, test } from "node:test";
import { parseSuite, runSuite } from "../../src/policy/testing/suite.js";
import { startServer, type TestServer } from "./harness.js";
import { HttpTarget } from "./http-target.js";

const dir = new URL("../../../test/conformance/openfga/", import.meta.url);

let server: TestServer;
before(async () => {
  server = await startServer();
});
after(async () => {
  await server.close();
});

for (const file of ["consolidated_1_1_tests.yaml", "abac_tests.yaml"]) {
  test(`OpenFGA conformance over HTTP: ${file}`, async () => {
    const tests = parseSuite(readFileSync(new URL(file, dir), "utf8"));
    const target = new HttpTarget(server.url, server.adminToken);
    const r = await runSuite(tests, { target: async () => ({ target, close: async () => undefined }) });
    const report = r.failures.map((f) => `${f.test} [stage ${f.stage}] ${f.assertion}: ${f.message}`).join("\n");
    assert.equal(r.failed, 0, `${r.failed} assertions failed over HTTP:\n${report}`);
    assert.ok(r.passed > 100, `expected the suite to contain assertions, ran ${r.passed}`);
    // Every assertion the in-process run has also ran over HTTP.
    const direct = await runSuite(tests);
    assert.equal(r.passed, direct.passed + direct.failed);
  });
}

test("the HTTP target reports errors with OpenFGA's numeric codes", async () => {
  // Guards the adapter itself: if it swallowed errors or mis-mapped names, the error-code
  // assertions of the suites above could not fail.
  const target = new HttpTarget(server.url, server.adminToken);
  const store = await target.createStore("http-target-errors");
  await target.writeModel(store.id, "model\n  schema 1.1\ntype user\ntype doc\n  relations\n    define viewer: [user]\n");
  const codeOf = async (p: Promise<unknown>) => {
    try {
      await p;
      return "no error";
    } catch (err) {
      return (err as { openfgaCode?: number }).openfgaCode;
    }
  };
  assert.equal(await codeOf(target.check(store.id, { object: "doc:1", relation: "editor", user: "user:a" })), 2000);
  assert.equal(await codeOf(target.listObjects(store.id, { type: "folder", relation: "viewer", user: "user:a" })), 2021);
  assert.equal(await codeOf(target.listObjects(store.id, { type: "doc", relation: "editor", user: "user:a" })), 2022);
  assert.equal(await codeOf(target.write(store.id, { writes: [{ object: "doc:1", relation: "viewer", user: "doc:2" }] })), 2027);
  assert.equal(await codeOf(target.check(store.id, { object: "doc:1", relation: "viewer", user: "user:a" })), "no error");
});
