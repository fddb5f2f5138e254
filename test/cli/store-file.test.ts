/**
 * `tenet store import` / `tenet store export` with OpenFGA store files (the format of
 * `fga store import --file store.fga.yaml`), run as the real binary on a temporary data
 * directory: model_file / tuple_file resolved beside the store file, inline model and
 * (conditional) tuples, export → import round trips, a round trip through `tenet serve`, and bad
 * input that must fail with one clear message and import nothing.
 */
import assert from "node:assert/strict";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { parse as parseYaml } from "yaml";
import {
  ULID,
  STACK_FRAME,
  adminToken,
  canonicalTuple,
  cleanup,
  http,
  lines,
  listStores,
  readAllTuples,
  serve,
  sortKeys,
  tempDir,
  tenet,
  withStore,
} from "./cli-helpers.js";

after(cleanup);

const MODEL = `model
  schema 1.1
type user
type group
  relations
    define member: [user, group#member]
type doc
  relations
    define owner: [user]
    define viewer: [user, user:*, group#member, user with non_expired] or owner
condition non_expired(current_time: timestamp, grant_time: timestamp, grant_duration: duration) {
  current_time < grant_time + grant_duration
}
`;

const indent = (text: string, n: number) =>
  text
    .split("\n")
    .map((l) => (l ? " ".repeat(n) + l : l))
    .join("\n");

/** The tuples used in most files, in store-file form. */
const TUPLES = [
  { user: "user:anne", relation: "member", object: "group:eng" },
  { user: "group:eng#member", relation: "viewer", object: "doc:1" },
  { user: "user:carl", relation: "owner", object: "doc:3" },
  {
    user: "user:bob",
    relation: "viewer",
    object: "doc:2",
    condition: { name: "non_expired", context: { grant_time: "2024-01-01T00:00:00Z", grant_duration: "1h" } },
  },
];

const TUPLES_YAML = `- user: user:anne
  relation: member
  object: group:eng
- user: group:eng#member
  relation: viewer
  object: doc:1
- user: user:carl
  relation: owner
  object: doc:3
- user: user:bob
  relation: viewer
  object: doc:2
  condition:
    name: non_expired
    context:
      grant_time: "2024-01-01T00:00:00Z"
      grant_duration: 1h
`;

const IMPORTED = /^imported (\d+) tuples into store (\S+) \(model (\S+)\)\n$/;

function importedId(out: string, tuples: number): string {
  const m = IMPORTED.exec(out);
  assert.ok(m, `unexpected import output: ${JSON.stringify(out)}`);
  assert.equal(Number(m[1]), tuples);
  assert.match(m[2]!, ULID);
  assert.match(m[3]!, ULID);
  return m[2]!;
}

/** Checks the data set's semantics on a store (in-process, on the data directory). */
async function assertSemantics(dataDir: string, storeId: string): Promise<void> {
  await withStore(dataDir, async (svc) => {
    const check = async (user: string, object: string, context?: Record<string, unknown>) =>
      (await svc.check(storeId, { user, relation: "viewer", object, ...(context ? { context } : {}) })).allowed;
    assert.equal(await check("user:anne", "doc:1"), true, "anne views doc:1 through group:eng#member");
    assert.equal(await check("user:dave", "doc:1"), false, "dave is in no group");
    assert.equal(await check("user:carl", "doc:3"), true, "owner implies viewer");
    assert.equal(await check("user:bob", "doc:2", { current_time: "2024-01-01T00:30:00Z" }), true, "bob's grant is valid for 1h");
    assert.equal(await check("user:bob", "doc:2", { current_time: "2024-01-01T02:00:00Z" }), false, "bob's grant expired after 1h");
  });
}

const expectedTuples = (ts: Array<Record<string, unknown>>) => ts.map(canonicalTuple).sort();

describe("tenet store import", () => {
  test("model_file (DSL) and tuple_file (YAML) are read relative to the store file, not the working directory", async () => {
    const root = tempDir();
    const dataDir = join(root, "data");
    const dir = join(root, "fixtures", "acme");
    mkdirSync(join(dir, "models"), { recursive: true });
    writeFileSync(join(dir, "models", "authz.fga"), MODEL);
    writeFileSync(join(dir, "tuples.yaml"), TUPLES_YAML);
    writeFileSync(join(dir, "store.fga.yaml"), "name: acme\nmodel_file: models/authz.fga\ntuple_file: ./tuples.yaml\n");
    // Run from another directory, with a relative path to the store file.
    const r = await tenet(["store", "import", "--file", "fixtures/acme/store.fga.yaml"], { cwd: root, env: { TENET_DATA_DIR: dataDir } });
    assert.equal(r.code, 0, r.err);
    const id = importedId(r.out, 4);

    const stores = await listStores(dataDir);
    assert.deepEqual(stores, [{ id, name: "acme", tuples: 4 }]);
    const tuples = await withStore(dataDir, (svc) => readAllTuples(svc, id));
    assert.deepEqual(tuples, expectedTuples(TUPLES));
    await assertSemantics(dataDir, id);
  });

  test("tuple_file in JSON, together with inline tuples (both are imported)", async () => {
    const root = tempDir();
    const dataDir = join(root, "data");
    writeFileSync(join(root, "model.fga"), MODEL);
    writeFileSync(join(root, "tuples.json"), JSON.stringify(TUPLES.slice(1)));
    writeFileSync(
      join(root, "store.fga.yaml"),
      "name: json-tuples\nmodel_file: model.fga\ntuple_file: tuples.json\ntuples:\n  - user: user:anne\n    relation: member\n    object: group:eng\n",
    );
    const r = await tenet(["store", "import", "--file", join(root, "store.fga.yaml")], { cwd: tempDir(), env: { TENET_DATA_DIR: dataDir } });
    assert.equal(r.code, 0, r.err);
    const id = importedId(r.out, 4);
    assert.deepEqual(
      (await listStores(dataDir)).map((s) => s.name),
      ["json-tuples"],
    );
    assert.deepEqual(await withStore(dataDir, (svc) => readAllTuples(svc, id)), expectedTuples(TUPLES));
    await assertSemantics(dataDir, id);
  });

  test("inline model and tuples, including a conditional tuple with context", async () => {
    const root = tempDir();
    const dataDir = join(root, "data");
    const file = join(root, "inline.fga.yaml");
    writeFileSync(file, `name: inline store\nmodel: |\n${indent(MODEL, 2)}\ntuples:\n${indent(TUPLES_YAML, 2)}`);
    const r = await tenet(["store", "import", "--file", file], { env: { TENET_DATA_DIR: dataDir } });
    assert.equal(r.code, 0, r.err);
    const id = importedId(r.out, 4);
    assert.deepEqual(await listStores(dataDir), [{ id, name: "inline store", tuples: 4 }]);
    assert.deepEqual(await withStore(dataDir, (svc) => readAllTuples(svc, id)), expectedTuples(TUPLES));
    await assertSemantics(dataDir, id);
  });

  test("usage errors exit 2: no --file, no --store-id for export, unknown subcommand", async () => {
    const dataDir = tempDir();
    for (const args of [["store", "import"], ["store", "export"], ["store", "list-all"], ["store"]]) {
      const r = await tenet(args, { env: { TENET_DATA_DIR: dataDir } });
      assert.equal(r.code, 2, `${args.join(" ")}: ${r.err}`);
      assert.match(r.err, /usage: tenet store import --file/);
      assert.equal(r.out, "");
    }
  });
});

describe("tenet store export", () => {
  test("exports a store file (stdout and --output) that imports again into an equal store", async () => {
    const root = tempDir();
    const dataDir = join(root, "data");
    writeFileSync(join(root, "model.fga"), MODEL);
    // More than one export page (100) and one import batch (100).
    const many = [...TUPLES];
    for (let i = 0; i < 250; i++) many.push({ user: `user:u${i}`, relation: "owner", object: `doc:bulk${i % 37}` });
    writeFileSync(join(root, "tuples.json"), JSON.stringify(many));
    writeFileSync(join(root, "store.fga.yaml"), "name: original\nmodel_file: model.fga\ntuple_file: tuples.json\n");
    const imp = await tenet(["store", "import", "--file", join(root, "store.fga.yaml")], { env: { TENET_DATA_DIR: dataDir } });
    assert.equal(imp.code, 0, imp.err);
    const first = importedId(imp.out, many.length);

    const out = await tenet(["store", "export", "--store-id", first], { env: { TENET_DATA_DIR: dataDir } });
    assert.equal(out.code, 0, out.err);
    const doc = parseYaml(out.out) as { name: unknown; model: unknown; tuples: unknown[] };
    assert.equal(doc.name, "original");
    assert.equal(typeof doc.model, "string");
    assert.match(String(doc.model), /^model\n\s+schema 1\.1/);
    assert.equal(doc.tuples.length, many.length);

    const exported = join(root, "exported", "copy.fga.yaml");
    mkdirSync(join(root, "exported"));
    const toFile = await tenet(["store", "export", "--store-id", first, "--output", exported], { env: { TENET_DATA_DIR: dataDir } });
    assert.equal(toFile.code, 0, toFile.err);
    assert.equal(toFile.out, `exported store ${first} to ${exported}\n`);
    assert.equal(readFileSync(exported, "utf8"), out.out, "--output writes what stdout shows");

    const again = await tenet(["store", "import", "--file", exported], { env: { TENET_DATA_DIR: dataDir } });
    assert.equal(again.code, 0, again.err);
    const second = importedId(again.out, many.length);
    assert.notEqual(second, first);

    const stores = await listStores(dataDir);
    assert.deepEqual(
      stores.map((s) => [s.name, s.tuples]).sort(),
      [
        ["original", many.length],
        ["original", many.length],
      ],
    );
    await withStore(dataDir, async (svc) => {
      assert.deepEqual(await readAllTuples(svc, second), await readAllTuples(svc, first), "same tuples, conditions and contexts");
      assert.deepEqual(await readAllTuples(svc, first), expectedTuples(many));
      // The same model apart from its id (condition parameters may come back in another order).
      const withoutId = (m: object) => sortKeys({ ...m, id: undefined });
      const original = withoutId((await svc.getModel(first)).model);
      assert.deepEqual(withoutId((await svc.getModel(second)).model), original, "same model");
      assert.equal((original as { type_definitions: unknown[] }).type_definitions.length, 3);
    });
    await assertSemantics(dataDir, second);

    // Exporting the copy gives the same file (a fixed point).
    const third = await tenet(["store", "export", "--store-id", second], { env: { TENET_DATA_DIR: dataDir } });
    assert.equal(third.code, 0, third.err);
    assert.equal(third.out, out.out);
  });

  test("an unknown store id exits 1 with one line naming it", async () => {
    const dataDir = tempDir();
    const r = await tenet(["store", "export", "--store-id", "01ARZ3NDEKTSV4RRFFQ69G5FAV"], { env: { TENET_DATA_DIR: dataDir } });
    assert.equal(r.code, 1);
    assert.equal(r.out, "");
    assert.deepEqual(lines(r.err), ["tenet: store_not_found: store '01ARZ3NDEKTSV4RRFFQ69G5FAV' not found"]);
  });
});

describe("tenet test and store files", () => {
  // `tenet test` runs OpenFGA's conformance format (tests[].stages[]); it does not read a store
  // file's `tests:` (tests[].check / list_objects, as `fga model test` does). What can be
  // asserted is that it does not pass such a file silently.
  test("a store file's tests: are not run by `tenet test`, and the file is reported as failed rather than passed", async () => {
    const root = tempDir();
    const file = join(root, "store.fga.yaml");
    writeFileSync(
      file,
      `name: s\nmodel: |\n${indent(MODEL, 2)}\ntuples:\n${indent(TUPLES_YAML, 2)}tests:\n  - name: anne\n    check:\n      - user: user:anne\n        object: doc:1\n        assertions:\n          viewer: true\n`,
    );
    const r = await tenet(["test", file]);
    assert.equal(r.code, 1, r.out + r.err);
    assert.match(r.out, /0 passed, 1 failed/);
    assert.match(r.err, /stages/);
  });
  test("`tenet test` running a store file's tests (tests[].check, fga model test format)", { skip: "not supported: tenet test reads only tests[].stages[] (src/policy/testing/suite.ts)" }, () => {});
});

describe("round trip through tenet serve", () => {
  test("an imported store answers checks over HTTP with the admin key from <data dir>/admin.token", async () => {
    const root = tempDir();
    const dataDir = join(root, "data");
    const file = join(root, "s.fga.yaml");
    writeFileSync(file, `name: served\nmodel: |\n${indent(MODEL, 2)}\ntuples:\n${indent(TUPLES_YAML, 2)}`);
    const imp = await tenet(["store", "import", "--file", file], { env: { TENET_DATA_DIR: dataDir } });
    assert.equal(imp.code, 0, imp.err);
    const id = importedId(imp.out, 4);

    const srv = await serve({ TENET_DATA_DIR: dataDir });
    try {
      const token = adminToken(dataDir);
      const check = (user: string, object: string, context?: Record<string, unknown>) =>
        http(srv.url, "POST", `/stores/${id}/check`, token, { tuple_key: { user, relation: "viewer", object }, ...(context ? { context } : {}) });
      const anne = await check("user:anne", "doc:1");
      assert.equal(anne.status, 200, JSON.stringify(anne.json));
      assert.equal(anne.json.allowed, true);
      assert.equal((await check("user:dave", "doc:1")).json.allowed, false);
      assert.equal((await check("user:bob", "doc:2", { current_time: "2024-01-01T00:59:00Z" })).json.allowed, true);
      assert.equal((await check("user:bob", "doc:2", { current_time: "2024-01-01T01:01:00Z" })).json.allowed, false);
      const unauth = await http(srv.url, "POST", `/stores/${id}/check`, undefined, { tuple_key: { user: "user:anne", relation: "viewer", object: "doc:1" } });
      assert.equal(unauth.status, 401);
      const list = await http(srv.url, "GET", "/stores", token);
      assert.equal(list.status, 200);
      assert.deepEqual(
        (list.json.stores as Array<{ id: string; name: string }>).map((s) => [s.id, s.name]),
        [[id, "served"]],
      );
    } finally {
      assert.equal((await srv.stop()).code, 0, srv.stderr());
    }
  });
});

describe("bad store files: exit 1, one clear message, nothing imported", () => {
  /** Sets up a data dir holding one good store, so "unchanged" is not trivially "empty". */
  async function setup() {
    const root = tempDir();
    const dataDir = join(root, "data");
    writeFileSync(join(root, "model.fga"), MODEL);
    writeFileSync(join(root, "good.fga.yaml"), "name: good\nmodel_file: model.fga\ntuples:\n  - { user: user:anne, relation: owner, object: doc:1 }\n");
    const r = await tenet(["store", "import", "--file", join(root, "good.fga.yaml")], { env: { TENET_DATA_DIR: dataDir } });
    assert.equal(r.code, 0, r.err);
    const before = await listStores(dataDir);
    assert.equal(before.length, 1);
    return { root, dataDir, before };
  }

  async function expectRejected(name: string, content: string | null, message: RegExp, extraFiles: Record<string, string> = {}) {
    const { root, dataDir, before } = await setup();
    for (const [f, text] of Object.entries(extraFiles)) writeFileSync(join(root, f), text);
    const file = join(root, name);
    if (content !== null) writeFileSync(file, content);
    const r = await tenet(["store", "import", "--file", file], { env: { TENET_DATA_DIR: dataDir } });
    assert.equal(r.code, 1, `exit code; stdout: ${r.out} stderr: ${r.err}`);
    assert.equal(r.out, "", "nothing on stdout (no store id is announced)");
    assert.doesNotMatch(r.err, STACK_FRAME, "no stack trace");
    const first = lines(r.err)[0] ?? "";
    assert.match(first, message, `first line of stderr: ${r.err}`);
    const afterStores = await listStores(dataDir);
    assert.deepEqual(
      afterStores,
      before,
      `the failed import must leave the store list unchanged; it left ${JSON.stringify(afterStores.filter((s) => !before.some((b) => b.id === s.id)))} behind`,
    );
    return r;
  }

  test("missing store file", async () => {
    await expectRejected("nope.fga.yaml", null, /nope\.fga\.yaml: cannot read: ENOENT/);
  });

  test("missing model_file", async () => {
    await expectRejected("m.fga.yaml", "name: x\nmodel_file: missing.fga\n", /missing\.fga/);
  });

  test("missing tuple_file", async () => {
    await expectRejected("t.fga.yaml", "name: x\nmodel_file: model.fga\ntuple_file: missing.yaml\n", /missing\.yaml/);
  });

  test("invalid YAML", async () => {
    await expectRejected("y.fga.yaml", "name: x\nmodel: [unclosed\n", /^tenet: validation_error: store file is not valid YAML/);
  });

  test("invalid JSON tuple_file", async () => {
    await expectRejected("j.fga.yaml", "name: x\nmodel_file: model.fga\ntuple_file: t.json\n", /tuple_file t\.json is not valid/, { "t.json": '[{"user": ' });
  });

  test("neither model nor model_file", async () => {
    await expectRejected("n.fga.yaml", "name: x\ntuples: []\n", /needs 'model' or 'model_file'/);
  });

  test("a tuple without an object", async () => {
    await expectRejected("o.fga.yaml", "name: x\nmodel_file: model.fga\ntuples:\n  - { user: user:a, relation: owner }\n", /tuples\[0\] needs user, relation and object/);
  });

  test("invalid model: no store is created", async () => {
    const r = await expectRejected(
      "bad-model.fga.yaml",
      "name: x\nmodel: |\n  model\n    schema 1.1\n  type doc\n    relations\n      define viewer: [usr]\n",
      /^tenet: invalid_model: .*usr/,
    );
    assert.match(r.err, /line \d+/);
  });

  test("a tuple that violates the model (undefined relation): no store is created", async () => {
    await expectRejected(
      "bad-tuple.fga.yaml",
      "name: x\nmodel_file: model.fga\ntuples:\n  - { user: user:a, relation: owner, object: doc:1 }\n  - { user: user:a, relation: nosuch, object: doc:1 }\n",
      /^tenet: invalid_tuple: .*nosuch/,
    );
  });

  test("a conditional tuple naming an unknown condition: no store is created", async () => {
    await expectRejected(
      "bad-cond.fga.yaml",
      "name: x\nmodel_file: model.fga\ntuples:\n  - user: user:a\n    relation: viewer\n    object: doc:1\n    condition: { name: no_such_condition }\n",
      /^tenet: invalid_tuple: .*no_such_condition/,
    );
  });

  test("a bad tuple after the first 100: no half-imported store is left behind", async () => {
    const many = [];
    for (let i = 0; i < 150; i++) many.push({ user: `user:u${i}`, relation: i === 120 ? "nosuch" : "owner", object: `doc:d${i}` });
    await expectRejected("big.fga.yaml", "name: big\nmodel_file: model.fga\ntuple_file: big.json\n", /^tenet: invalid_tuple: .*doc:d120#nosuch@user:u120/, {
      "big.json": JSON.stringify(many),
    });
  });
});
