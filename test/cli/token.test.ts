/**
 * `tenet token create|list|revoke`, run as the real binary on a temporary data directory, and
 * the created keys used against a real `tenet serve`: scopes and stores are enforced, the secret
 * is shown once and never listed, and a revoked key is refused.
 */
import assert from "node:assert/strict";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { ULID, adminToken, cleanup, http, lines, serve, tempDir, tenet } from "./cli-helpers.js";

after(cleanup);

const KEY = /^tenet_([0-9a-f]{16})_([A-Za-z0-9_-]{43})$/;

const STORE_FILE = `name: tokens
model: |
  model
    schema 1.1
  type user
  type doc
    relations
      define viewer: [user]
tuples:
  - { user: "user:anne", relation: viewer, object: "doc:1" }
`;

async function importStore(dataDir: string, name = "tokens"): Promise<string> {
  const file = join(dataDir, `${name}.fga.yaml`);
  writeFileSync(file, STORE_FILE.replace("name: tokens", `name: ${name}`));
  const r = await tenet(["store", "import", "--file", file], { env: { TENET_DATA_DIR: dataDir } });
  assert.equal(r.code, 0, r.err);
  const id = /into store (\S+)/.exec(r.out)?.[1];
  assert.ok(id && ULID.test(id), r.out);
  return id;
}

describe("tenet token against tenet serve", () => {
  let dataDir: string;
  let storeId: string;
  let otherStoreId: string;
  let admin: string;

  before(async () => {
    dataDir = tempDir();
    storeId = await importStore(dataDir);
    otherStoreId = await importStore(dataDir, "other");
    // First start: bootstraps the admin key (no key exists yet).
    const srv = await serve({ TENET_DATA_DIR: dataDir });
    assert.equal((await srv.stop()).code, 0, srv.stderr());
    admin = adminToken(dataDir);
  });

  const env = () => ({ TENET_DATA_DIR: dataDir });
  const checkBody = { tuple_key: { user: "user:anne", relation: "viewer", object: "doc:1" } };
  const writeBody = { writes: { tuple_keys: [{ user: "user:bob", relation: "viewer", object: "doc:1" }] } };

  test("create prints the key once on stdout; it checks and reads, gets 403 for write and admin; list never shows the secret; revoke makes a fresh server refuse it", async () => {
    const created = await tenet(["token", "create", "--name", "ci-checker", "--scopes", "check,read", "--stores", "*"], { env: env() });
    assert.equal(created.code, 0, created.err);
    const out = lines(created.out);
    assert.equal(out.length, 1, `stdout is exactly the key: ${JSON.stringify(created.out)}`);
    const key = out[0]!;
    const m = KEY.exec(key);
    assert.ok(m, `not a Tenet API key: ${key}`);
    const [, id, secret] = m;
    assert.ok(!created.err.includes(secret!), "the secret is not repeated on stderr");
    assert.match(created.err, new RegExp(`created key ${id}`));

    // Nothing on disk holds the secret in clear (only its hash is stored).
    const db = readFileSync(join(dataDir, "tenet.db"));
    assert.equal(db.includes(Buffer.from(secret!)), false, "the secret is stored in clear in tenet.db");

    const list = await tenet(["token", "list"], { env: env() });
    assert.equal(list.code, 0, list.err);
    const row = lines(list.out).find((l) => l.startsWith(id!));
    assert.ok(row, `token list does not show ${id}:\n${list.out}`);
    assert.match(row, /\bactive\b/);
    assert.match(row, /check,read/);
    assert.match(row, /stores=\*/);
    assert.match(row, /ci-checker/);
    assert.ok(!list.out.includes(secret!) && !list.err.includes(secret!), "token list shows the secret");
    assert.ok(!list.out.includes(key), "token list shows the key");
    assert.ok(!list.out.includes(KEY.exec(admin)![2]!), "token list shows the admin secret");

    const srv = await serve(env());
    try {
      const check = await http(srv.url, "POST", `/stores/${storeId}/check`, key, checkBody);
      assert.equal(check.status, 200, JSON.stringify(check.json));
      assert.equal(check.json.allowed, true);
      // Valid on every store ('*').
      assert.equal((await http(srv.url, "POST", `/stores/${otherStoreId}/check`, key, checkBody)).status, 200);
      const read = await http(srv.url, "POST", `/stores/${storeId}/read`, key, {});
      assert.equal(read.status, 200, JSON.stringify(read.json));
      const write = await http(srv.url, "POST", `/stores/${storeId}/write`, key, writeBody);
      assert.equal(write.status, 403, JSON.stringify(write.json));
      const createStore = await http(srv.url, "POST", "/stores", key, { name: "nope" });
      assert.equal(createStore.status, 403, JSON.stringify(createStore.json));
      // The write was refused, so bob still cannot view.
      const bob = await http(srv.url, "POST", `/stores/${storeId}/check`, admin, { tuple_key: { user: "user:bob", relation: "viewer", object: "doc:1" } });
      assert.equal(bob.json.allowed, false);
      // A wrong secret with the right id is refused.
      const forged = `tenet_${id}_${"A".repeat(43)}`;
      assert.equal((await http(srv.url, "POST", `/stores/${storeId}/check`, forged, checkBody)).status, 401);
    } finally {
      assert.equal((await srv.stop()).code, 0, srv.stderr());
    }

    const revoked = await tenet(["token", "revoke", id!], { env: env() });
    assert.equal(revoked.code, 0, revoked.err);
    assert.equal(revoked.out, `revoked ${id}\n`);
    const list2 = await tenet(["token", "list"], { env: env() });
    assert.match(lines(list2.out).find((l) => l.startsWith(id!)) ?? "", /\brevoked\b/);

    const again = await tenet(["token", "revoke", id!], { env: env() });
    assert.equal(again.code, 1);
    assert.match(again.err, new RegExp(`no active key with id ${id}`));

    const fresh = await serve(env());
    try {
      const refused = await http(fresh.url, "POST", `/stores/${storeId}/check`, key, checkBody);
      assert.equal(refused.status, 401, JSON.stringify(refused.json));
      assert.match(refused.headers.get("www-authenticate") ?? "", /^Bearer/);
      // The admin key is unaffected, and no new admin key was generated.
      assert.equal((await http(fresh.url, "GET", "/stores", admin)).status, 200);
      assert.ok(!fresh.stderr().includes("admin key was created"), fresh.stderr());
    } finally {
      assert.equal((await fresh.stop()).code, 0, fresh.stderr());
    }
  });

  test("a key limited to one store gets 403 on another store", async () => {
    const created = await tenet(["token", "create", "--name", "one-store", "--scopes", "check", "--stores", storeId], { env: env() });
    assert.equal(created.code, 0, created.err);
    const key = created.out.trim();
    assert.match(key, KEY);
    const list = await tenet(["token", "list"], { env: env() });
    assert.match(list.out, new RegExp(`stores=${storeId}\\s+one-store`));
    const srv = await serve(env());
    try {
      assert.equal((await http(srv.url, "POST", `/stores/${storeId}/check`, key, checkBody)).status, 200);
      assert.equal((await http(srv.url, "POST", `/stores/${otherStoreId}/check`, key, checkBody)).status, 403);
      // check does not imply read.
      assert.equal((await http(srv.url, "POST", `/stores/${storeId}/read`, key, {})).status, 403);
    } finally {
      await srv.stop();
    }
  });

  test("revoking while a server runs: the running server refuses the key within its 5 s key cache", async () => {
    const created = await tenet(["token", "create", "--name", "live", "--scopes", "check"], { env: env() });
    assert.equal(created.code, 0, created.err);
    const key = created.out.trim();
    const id = KEY.exec(key)![1]!;
    const srv = await serve(env());
    try {
      assert.equal((await http(srv.url, "POST", `/stores/${storeId}/check`, key, checkBody)).status, 200);
      const revoked = await tenet(["token", "revoke", id], { env: env() });
      assert.equal(revoked.code, 0, revoked.err);
      const deadline = Date.now() + 8000;
      let status = 200;
      while (Date.now() < deadline) {
        status = (await http(srv.url, "POST", `/stores/${storeId}/check`, key, checkBody)).status;
        if (status === 401) break;
        await new Promise((r) => setTimeout(r, 250));
      }
      assert.equal(status, 401, "a revoked key was still accepted 8 s after revocation");
    } finally {
      await srv.stop();
    }
  });
});

describe("tenet token usage errors", () => {
  const dataDir = tempDir();
  const env = { TENET_DATA_DIR: dataDir };

  async function listIds(): Promise<string[]> {
    const r = await tenet(["token", "list"], { env });
    assert.equal(r.code, 0, r.err);
    return lines(r.out).map((l) => l.split(/\s+/)[0]!);
  }

  for (const [what, args, message] of [
    ["unknown scope", ["token", "create", "--name", "x", "--scopes", "check,superuser"], /unknown scope\(s\): superuser \(allowed: check, read, write, admin\)/],
    ["empty scope", ["token", "create", "--name", "x", "--scopes", "check,"], /unknown scope|usage:/],
    ["missing --name", ["token", "create", "--scopes", "check"], /usage:\n\s+tenet token create --name NAME/],
    ["--name without a value", ["token", "create", "--name"], /usage:/],
    ["bad store id", ["token", "create", "--name", "x", "--stores", "not-a-store"], /usage:/],
    ["negative rate limit", ["token", "create", "--name", "x", "--rate-limit", "-1"], /usage:/],
    ["revoke without an id", ["token", "revoke"], /usage:/],
    ["unknown subcommand", ["token", "rotate"], /usage:/],
  ] as Array<[string, string[], RegExp]>) {
    test(`${what} → exit 2 with usage, no key created`, async () => {
      const beforeIds = await listIds();
      const r = await tenet(args, { env });
      assert.equal(r.code, 2, `${args.join(" ")}: stdout ${r.out} stderr ${r.err}`);
      assert.equal(r.out, "", "no key on stdout");
      assert.match(r.err, message);
      assert.deepEqual(await listIds(), beforeIds);
    });
  }

  test("--name directly followed by another flag is a missing name, not a key named '--scopes'", async () => {
    const beforeIds = await listIds();
    const r = await tenet(["token", "create", "--name", "--scopes", "admin"], { env });
    const list = await tenet(["token", "list"], { env });
    assert.equal(r.code, 2, `exit ${r.code}; created: ${list.out}`);
    assert.deepEqual(await listIds(), beforeIds, `a key was created: ${list.out}`);
  });

  test("revoking an unknown id exits 1 and names it", async () => {
    const r = await tenet(["token", "revoke", "0123456789abcdef"], { env });
    assert.equal(r.code, 1);
    assert.equal(r.err, "no active key with id 0123456789abcdef\n");
  });
});
