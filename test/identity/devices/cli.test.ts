/**
 * The reference agent, `tenet device enroll|report`, run in-process against a real server with
 * the devices API: the posture this host shows, an enrolment authorised by a user's token, the
 * owner-only state file, a signed report and the server's verdict, and the operator's mistakes.
 */
import assert from "node:assert/strict";
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import type { FastifyInstance } from "fastify";
import { deviceCommand } from "../../../src/cli/commands/device.js";
import { parsePosture } from "../../../src/identity/devices/posture.js";
import { PosturePolicy } from "../../../src/identity/devices/posture-policy.js";
import { DeviceRegistry } from "../../../src/identity/devices/registry.js";
import { sqliteStore, type TestStore } from "./helpers.js";
import { startDeviceServer } from "./server.js";

async function run(args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = "";
  let err = "";
  const code = await deviceCommand(args, { out: (s) => (out += s), err: (s) => (err += s) });
  return { code, out, err };
}

/** The posture JSON the command printed first (the verdict lines follow it). */
function printedPosture(out: string): unknown {
  const end = out.indexOf("\n}\n");
  return JSON.parse(out.slice(0, end + 2));
}

describe("tenet device report --dry-run", () => {
  it("prints this host's posture, unknown where it cannot tell, and sends nothing", async () => {
    const r = await run(["report", "--dry-run"]);
    assert.equal(r.code, 0, r.err);
    const p = parsePosture(JSON.parse(r.out));
    assert.equal(p.screenLock, "unknown");
    assert.equal(p.managed, "unknown");
    assert.ok(Math.abs(Date.parse(p.collectedAt) - Date.now()) < 60_000);
    if (process.platform === "linux" && existsSync("/etc/os-release")) {
      const id = /^ID="?([^"\n]+)"?$/m.exec(readFileSync("/etc/os-release", "utf8"))?.[1];
      if (id) assert.equal(p.os.name, id);
    }
    const managed = await run(["report", "--dry-run", "--managed"]);
    assert.equal(parsePosture(JSON.parse(managed.out)).managed, true);
  });
});

describe("tenet device enroll + report against a server", () => {
  let store: TestStore;
  let app: FastifyInstance;
  let url: string;
  let devices: DeviceRegistry;
  let dir: string;

  before(async () => {
    store = await sqliteStore();
    // No check required: the verdict does not depend on what this test machine shows.
    devices = new DeviceRegistry({ documents: store.ds, policy: new PosturePolicy({ require: [] }) });
    // A user's token as the server would take it from an OIDC access token: `Bearer user-<id>`.
    ({ app, url } = await startDeviceServer(store, devices, (req) => /^Bearer user-(\w+)$/.exec(req.headers.authorization ?? "")?.[1]));
    dir = mkdtempSync(join(tmpdir(), "tenet-device-cli-"));
  });
  after(async () => {
    await app.close();
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("enrols with the user's token, keeps the key owner-only, reports signed posture and prints the verdict", async () => {
    const state = join(dir, "nested", "device.json");
    const e = await run(["enroll", "--server", `${url}/`, "--token", "user-anne", "--name", "build box", "--state", state]);
    assert.equal(e.code, 0, e.err);
    const id = /enrolled device (\S+) \('build box'\) for user anne/.exec(e.out)?.[1];
    assert.ok(id, e.out);
    assert.equal(statSync(state).mode & 0o777, 0o600);
    assert.equal(statSync(join(dir, "nested")).mode & 0o777, 0o700);
    const saved = JSON.parse(readFileSync(state, "utf8"));
    assert.equal(saved.deviceId, id);
    assert.equal(saved.server, url);
    assert.equal(saved.alg, "ES256");
    assert.ok(saved.privateKey.d, "the private key stays on the device");
    const stored = await devices.get(id);
    assert.equal(stored?.userId, "anne");
    assert.equal(stored?.keyThumbprint !== undefined, true);
    assert.equal(stored?.platform, process.platform);

    const r = await run(["report", "--state", state]);
    assert.equal(r.code, 0, r.err);
    const printed = parsePosture(printedPosture(r.out));
    assert.match(r.out, new RegExp(`device ${id}: compliant\\n$`));
    // The server stored exactly what was printed.
    assert.deepEqual((await devices.get(id))?.posture, printed);

    // A second report is a new report (fresh nonce), not a replay.
    assert.equal((await run(["report", "--state", state])).code, 0);
  });

  it("enrols an Ed25519 key with --alg EdDSA, and prints the reasons when not compliant", async () => {
    const strict = new DeviceRegistry({ documents: store.ds, policy: new PosturePolicy({ require: ["screenLock"], requireManaged: true }) });
    const server = await startDeviceServer(store, strict, (req) => /^Bearer user-(\w+)$/.exec(req.headers.authorization ?? "")?.[1]);
    try {
      const state = join(dir, "ed.json");
      process.env.TENET_TOKEN = "user-bob";
      const e = await run(["enroll", "--server", server.url, "--alg", "EdDSA", "--state", state]);
      delete process.env.TENET_TOKEN;
      assert.equal(e.code, 0, e.err);
      assert.equal(JSON.parse(readFileSync(state, "utf8")).alg, "EdDSA");
      const r = await run(["report", "--state", state]);
      assert.equal(r.code, 0, r.err);
      assert.match(r.out, /: not compliant\n {2}- screenLock is unknown \(required: on\)\n {2}- the device is not known to be managed/);
      // --managed changes the claim (the server's verdict follows).
      const m = await run(["report", "--state", state, "--managed"]);
      assert.doesNotMatch(m.out, /managed \(required/);
    } finally {
      delete process.env.TENET_TOKEN;
      await server.app.close();
    }
  });

  it("refuses operator mistakes with a message and a non-zero exit", async () => {
    const state = join(dir, "mistakes.json");
    const usage = await run(["frobnicate"]);
    assert.equal(usage.code, 2);
    assert.match(usage.err, /usage:/);
    assert.equal((await run(["enroll", "--token", "user-anne", "--state", state])).code, 2, "no server");
    assert.equal((await run(["enroll", "--server", "ftp://x", "--token", "user-anne", "--state", state])).code, 2);
    assert.equal((await run(["enroll", "--server", url, "--token", "user-anne", "--alg", "RS256", "--state", state])).code, 2);
    // Without a token the agent signs the person in through the server's identity provider,
    // which this test server does not run: a clear failure, nothing kept.
    const noToken = await run(["enroll", "--server", url, "--state", state]);
    assert.equal(noToken.code, 1);
    assert.match(noToken.err, /cannot start a sign-in/);
    assert.equal(existsSync(state), false);
    // The server refuses a token that names no user: nothing is kept.
    const refused = await run(["enroll", "--server", url, "--token", "garbage", "--state", state]);
    assert.equal(refused.code, 1);
    assert.match(refused.err, /the server refused: unauthenticated/);
    assert.equal(existsSync(state), false);
    // An unreachable server.
    const down = await run(["enroll", "--server", "http://127.0.0.1:9", "--token", "user-anne", "--state", state]);
    assert.equal(down.code, 1);
    assert.match(down.err, /cannot reach/);
    // Report without enrolment.
    const none = await run(["report", "--state", state]);
    assert.equal(none.code, 1);
    assert.match(none.err, /tenet device enroll/);
    // Enrolled once: not replaced without --force.
    assert.equal((await run(["enroll", "--server", url, "--token", "user-carl", "--state", state])).code, 0);
    const twice = await run(["enroll", "--server", url, "--token", "user-carl", "--state", state]);
    assert.equal(twice.code, 1);
    assert.match(twice.err, /--force/);
    assert.equal((await run(["enroll", "--server", url, "--token", "user-carl", "--state", state, "--force"])).code, 0);
    // A state file others can read is refused (it holds the private key).
    chmodSync(state, 0o644);
    const open = await run(["report", "--state", state]);
    assert.equal(open.code, 1);
    assert.match(open.err, /chmod 600/);
    chmodSync(state, 0o600);
    assert.equal((await run(["report", "--state", state, "--server", "not a url"])).code, 2);
    // Not a state file.
    const junk = join(dir, "junk.json");
    writeFileSync(junk, "{}", { mode: 0o600 });
    const bad = await run(["report", "--state", junk]);
    assert.equal(bad.code, 1);
    assert.match(bad.err, /not a device state file/);
  });

  it("reports the server's refusal once the device is removed", async () => {
    const state = join(dir, "removed.json");
    assert.equal((await run(["enroll", "--server", url, "--token", "user-dina", "--state", state])).code, 0);
    const id = JSON.parse(readFileSync(state, "utf8")).deviceId;
    await devices.remove(id);
    const r = await run(["report", "--state", state]);
    assert.equal(r.code, 1);
    assert.match(r.err, /the server refused: unauthenticated: .*removed/);
  });
});
