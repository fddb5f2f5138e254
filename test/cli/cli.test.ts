/** The `tenet` binary, run as a user would run it (a child process of bin/tenet.js). */
import { spawnSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import assert from "node:assert/strict";

const bin = new URL("../../../bin/tenet.js", import.meta.url).pathname;
const dir = mkdtempSync(join(tmpdir(), "tenet-cli-"));

function tenet(...args: string[]) {
  const r = spawnSync(process.execPath, [bin, ...args], { encoding: "utf8" });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

const model = `model
  schema 1.1
type user
type group
  relations
    define member: [user, group#member]
type doc
  relations
    define viewer: [user, group#member]
`;

const passing = `tests:
  - name: nested groups
    stages:
      - model: |
${model.split("\n").map((l) => `          ${l}`).join("\n")}
        tuples:
          - { object: group:a, relation: member, user: user:anne }
          - { object: group:b, relation: member, user: group:a#member }
          - { object: doc:1, relation: viewer, user: group:b#member }
        checkAssertions:
          - tuple: { object: doc:1, relation: viewer, user: user:anne }
            expectation: true
          - tuple: { object: doc:1, relation: viewer, user: user:bob }
            expectation: false
        listObjectsAssertions:
          - request: { user: user:anne, type: doc, relation: viewer }
            expectation: [doc:1]
`;

test("tenet test prints 'N passed, M failed' per file and exits 0 when all pass", () => {
  const f = join(dir, "ok.yaml");
  writeFileSync(f, passing);
  const r = tenet("test", f);
  assert.equal(r.code, 0, r.err);
  assert.match(r.out, new RegExp(`${f.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}: 3 passed, 0 failed`));
});

test("tenet test exits non-zero and names the failing assertion", () => {
  const f = join(dir, "bad.yaml");
  writeFileSync(f, passing.replace("user: user:bob }\n            expectation: false", "user: user:bob }\n            expectation: true"));
  const ok = join(dir, "ok2.yaml");
  writeFileSync(ok, passing);
  const r = tenet("test", ok, f);
  assert.equal(r.code, 1);
  assert.match(r.out, /ok2\.yaml: 3 passed, 0 failed/);
  assert.match(r.out, /bad\.yaml: 2 passed, 1 failed/);
  assert.match(r.out, /FAIL .*nested groups.*doc:1#viewer@user:bob/);
});

test("tenet test reports unreadable and malformed files as failures", () => {
  const f = join(dir, "garbage.yaml");
  writeFileSync(f, "tests: [ {");
  const r = tenet("test", f, join(dir, "missing.yaml"));
  assert.equal(r.code, 1);
  assert.match(r.out, /garbage\.yaml: 0 passed, 1 failed/);
  assert.match(r.err, /missing\.yaml: cannot read: ENOENT/);
});

test("tenet model validate accepts a valid model and rejects an invalid one with where and what", () => {
  const good = join(dir, "model.fga");
  writeFileSync(good, model);
  const r = tenet("model", "validate", good);
  assert.equal(r.code, 0, r.err);
  assert.match(r.out, /valid \(3 types, 2 relations, 0 conditions\)/);

  const bad = join(dir, "bad.fga");
  writeFileSync(bad, model.replace("[user, group#member]\n", "[user, team#member]\n"));
  const b = tenet("model", "validate", bad);
  assert.equal(b.code, 1);
  assert.match(b.err, /invalid_model/);
  assert.match(b.err, /line \d+.*team/);
});

test("unknown commands print usage and exit 2", () => {
  const r = tenet("frobnicate");
  assert.equal(r.code, 2);
  assert.match(r.err, /usage: tenet/);
});
