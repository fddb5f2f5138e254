/**
 * `tenet migrate` as users run it: on an empty SQLite data directory and on a fresh PostgreSQL
 * schema (TENET_TEST_DATABASE_URL; skipped with a visible message without it), it applies every
 * migration and lists them; a second run says the schema is up to date. The expected list is
 * read from the migration files, so a new migration does not break these tests.
 */
import assert from "node:assert/strict";
import { existsSync, readFileSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { PG_SKIP, PG_URL, adminQuery, createTestSchema, dropTestSchema } from "../storage/pg-test-schema.js";
import { ROOT, STACK_FRAME, cleanup, lines, tempDir, tenet } from "./cli-helpers.js";

after(cleanup);

function migrationFiles(dialect: "sqlite" | "postgres"): Array<{ version: number; name: string }> {
  return readdirSync(join(ROOT, "src", "storage", "migrations", dialect))
    .map((f) => /^(\d{4})_([a-z0-9_]+)\.sql$/.exec(f))
    .filter((m): m is RegExpExecArray => m !== null)
    .map((m) => ({ version: Number(m[1]), name: m[2]! }))
    .sort((a, b) => a.version - b.version);
}

describe("tenet migrate on SQLite", () => {
  const expected = migrationFiles("sqlite");

  test("there are migrations to apply", () => {
    assert.ok(expected.length >= 1);
    assert.deepEqual(
      expected.map((m) => m.version),
      expected.map((_, i) => i + 1),
    );
  });

  test("an empty data directory gets every migration, listed; a second run is up to date", async () => {
    const dataDir = join(tempDir(), "fresh");
    const first = await tenet(["migrate"], { env: { TENET_DATA_DIR: dataDir } });
    assert.equal(first.code, 0, first.err);
    assert.equal(first.out, `applied migrations: ${expected.map((m) => m.version).join(", ")}\n`);
    assert.equal(first.err, "");
    assert.ok(existsSync(join(dataDir, "tenet.db")));
    // migrate does not bootstrap API keys (that is serve's job).
    assert.equal(existsSync(join(dataDir, "admin.token")), false);

    const second = await tenet(["migrate"], { env: { TENET_DATA_DIR: dataDir } });
    assert.equal(second.code, 0, second.err);
    assert.equal(second.out, "the database schema is up to date\n");
    assert.equal(second.err, "");

    // The database is usable by the other commands afterwards.
    const keys = await tenet(["token", "list"], { env: { TENET_DATA_DIR: dataDir } });
    assert.equal(keys.code, 0, keys.err);
    assert.equal(keys.out, "");
  });

  test("--data-dir overrides TENET_DATA_DIR", async () => {
    const envDir = join(tempDir(), "env");
    const flagDir = join(tempDir(), "flag");
    const r = await tenet(["migrate", "--data-dir", flagDir], { env: { TENET_DATA_DIR: envDir } });
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /^applied migrations: /);
    assert.ok(existsSync(join(flagDir, "tenet.db")));
    assert.equal(existsSync(envDir), false);
  });

  test("a data directory already migrated by serve is up to date", async () => {
    const dataDir = tempDir();
    // store import opens (and migrates) the database just as serve does.
    writeFileSync(join(dataDir, "s.fga.yaml"), "name: abc\nmodel: |\n  model\n    schema 1.1\n  type user\n");
    assert.equal((await tenet(["store", "import", "--file", join(dataDir, "s.fga.yaml")], { env: { TENET_DATA_DIR: dataDir } })).code, 0);
    const r = await tenet(["migrate"], { env: { TENET_DATA_DIR: dataDir } });
    assert.equal(r.code, 0, r.err);
    assert.equal(r.out, "the database schema is up to date\n");
  });

  test("a corrupt database: exit 1, one message, file unchanged", async () => {
    const dataDir = tempDir();
    const bytes = Buffer.from("not a database\n".repeat(1000));
    writeFileSync(join(dataDir, "tenet.db"), bytes);
    const r = await tenet(["migrate"], { env: { TENET_DATA_DIR: dataDir } });
    assert.equal(r.code, 1, r.out + r.err);
    assert.equal(r.out, "");
    assert.doesNotMatch(r.err, STACK_FRAME);
    assert.deepEqual(lines(r.err).length, 1, r.err);
    assert.match(r.err, /^tenet migrate: cannot open the database \(corrupt\)/);
    assert.ok(readFileSync(join(dataDir, "tenet.db")).equals(bytes));
  });

  test("an invalid TENET_DATABASE_URL: exit 1 naming the variable, password not echoed", async () => {
    const r = await tenet(["migrate"], { env: { TENET_DATA_DIR: tempDir(), TENET_DATABASE_URL: "mysql://root:M1grat3pw@localhost/db" } });
    assert.equal(r.code, 1, r.out + r.err);
    assert.doesNotMatch(r.err, STACK_FRAME);
    assert.match(lines(r.err)[0] ?? "", /TENET_DATABASE_URL/);
    assert.ok(!r.err.includes("M1grat3pw"));
  });
});

describe("tenet migrate on PostgreSQL", PG_SKIP ? { skip: PG_SKIP } : {}, () => {
  const expected = migrationFiles("postgres");
  let schema: string;
  let url: string;

  before(async () => {
    schema = await createTestSchema();
    const sep = PG_URL!.includes("?") ? "&" : "?";
    url = `${PG_URL}${sep}options=${encodeURIComponent(`-c search_path=${schema}`)}`;
  });
  after(async () => {
    if (schema) await dropTestSchema(schema);
  });

  test("a fresh schema gets every migration, listed; a second run is up to date", async () => {
    const dataDir = join(tempDir(), "unused");
    const env = { TENET_DATA_DIR: dataDir, TENET_DATABASE_URL: url };
    const first = await tenet(["migrate"], { env });
    assert.equal(first.code, 0, first.err);
    assert.equal(first.out, `applied migrations: ${expected.map((m) => m.version).join(", ")}\n`);

    const recorded = await adminQuery("SELECT version, name FROM schema_migrations ORDER BY version", [], schema);
    assert.deepEqual(
      recorded.rows.map((r: { version: number; name: string }) => ({ version: r.version, name: r.name })),
      expected,
    );
    // The tables were created in the test schema, not in public.
    const tables = await adminQuery("SELECT table_name FROM information_schema.tables WHERE table_schema = $1", [schema]);
    assert.ok(tables.rows.some((r: { table_name: string }) => r.table_name === "stores"), JSON.stringify(tables.rows));

    const second = await tenet(["migrate"], { env });
    assert.equal(second.code, 0, second.err);
    assert.equal(second.out, "the database schema is up to date\n");
    // PostgreSQL storage does not use the data directory.
    assert.equal(existsSync(dataDir), false);
  });
});

// Needs no PostgreSQL server, so it runs without TENET_TEST_DATABASE_URL too.
describe("tenet migrate with an unreachable PostgreSQL", () => {
  test("an unreachable PostgreSQL: exit 1 with one clear message", async () => {
    const r = await tenet(["migrate"], { env: { TENET_DATA_DIR: tempDir(), TENET_DATABASE_URL: "postgres://postgres@127.0.0.1:1/x" }, timeoutMs: 30_000 });
    assert.equal(r.code, 1, r.out + r.err);
    assert.equal(r.out, "");
    assert.doesNotMatch(r.err, STACK_FRAME);
    assert.match(r.err, /^tenet migrate: cannot open the database \(unavailable\): .*127\.0\.0\.1:1/);
  });
});
