/**
 * `tenet policy ...` and `tenet test` on access-policy tests, as users run them: the real binary
 * against a SQLite data directory.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { cleanEnv, ROOT, tenet } from "./cli-helpers.js";

let dir: string;
let env: NodeJS.ProcessEnv;
let storeId: string;

const policy = (name: string, when: string) => `apiVersion: tenet.dev/v1
kind: AccessPolicy
metadata:
  name: ${name}
spec:
  target:
    resources: [{ type: document }]
  rules:
    - name: readers
      effect: allow
      when: ${when}
`;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), "tenet-cli-policy-"));
  env = cleanEnv({ TENET_DATA_DIR: join(dir, "data") });
  writeFileSync(join(dir, "store.fga.yaml"), "name: docs\nmodel: |\n  model\n    schema 1.1\n  type user\n  type document\n    relations\n      define viewer: [user]\ntuples: []\n");
  const imported = await tenet(["store", "import", "--file", join(dir, "store.fga.yaml")], { env });
  assert.equal(imported.code, 0, imported.err);
  storeId = /store (\S+)/.exec(imported.out)![1]!;
});
after(() => rmSync(dir, { recursive: true, force: true }));

describe("tenet policy", () => {
  test("apply validates first: a bad file is reported with file and line and nothing is applied", async () => {
    writeFileSync(join(dir, "bad.yaml"), policy("bad", "device.nope"));
    const r = await tenet(["policy", "apply", "-f", join(dir, "bad.yaml"), "--store", storeId], { env });
    assert.equal(r.code, 1);
    assert.match(r.err, /bad\.yaml:9: rule 'readers': .*nope/);
    const h = await tenet(["policy", "history", "--store", storeId], { env });
    assert.equal(h.out, "");
  });

  test("apply, history, diff, rollback", async () => {
    writeFileSync(join(dir, "p.yaml"), policy("readers", 'check("viewer")'));
    assert.equal((await tenet(["policy", "apply", "-f", join(dir, "p.yaml"), "--store", storeId, "--comment", "one"], { env })).code, 0);
    writeFileSync(join(dir, "p.yaml"), policy("readers", `'"eng" in subject.groups'`));
    const second = await tenet(["policy", "apply", "-f", join(dir, "p.yaml"), "--store", storeId], { env });
    assert.match(second.out, /applied version 2 \(live\): 1 access policies/);
    const diff = await tenet(["policy", "diff", "--store", storeId, "--from", "1", "--to", "2"], { env });
    assert.match(diff.out, /~ readers[\s\S]*check\("viewer"\)[\s\S]*"eng" in subject.groups/);
    const rb = await tenet(["policy", "rollback", "--store", storeId, "--to", "1"], { env });
    assert.match(rb.out, /version 3 restores version 1/);
    const h = await tenet(["policy", "history", "--store", storeId], { env });
    assert.equal(h.out.trim().split("\n").length, 3);
  });

  test("tenet test runs the default pack's access-policy tests", async () => {
    const r = await tenet(["test", join(ROOT, "policies/default/tests/seed-risk-table.yaml")], { env });
    assert.equal(r.code, 0, r.out + r.err);
    assert.match(r.out, /6 passed, 0 failed/);
  });

  test("a failing access-policy test fails the run", async () => {
    writeFileSync(join(dir, "p2.yaml"), policy("readers", 'check("viewer")'));
    writeFileSync(
      join(dir, "t.yaml"),
      `kind: AccessPolicyTest\npolicies: [p2.yaml]\nmodel: |\n  model\n    schema 1.1\n  type user\n  type document\n    relations\n      define viewer: [user]\ntests:\n  - name: nobody is a viewer\n    request: { subject: { id: "user:x" }, resource: { type: document, id: "1" }, action: viewer }\n    expect: { decision: allow }\n`,
    );
    const r = await tenet(["test", join(dir, "t.yaml")], { env });
    assert.equal(r.code, 1);
    assert.match(r.out, /FAIL .*nobody is a viewer: decision deny, expected allow/);
  });
});
