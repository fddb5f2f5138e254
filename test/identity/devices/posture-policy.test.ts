/** The posture policy and the posture document's schema: every requirement, and bad input. */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { parsePosture } from "../../../src/identity/devices/posture.js";
import { compareVersions, parsePosturePolicy, PosturePolicy } from "../../../src/identity/devices/posture-policy.js";
import { TenetError } from "../../../src/errors.js";
import { posture } from "./helpers.js";

const NOW = Date.parse("2026-03-02T10:00:00Z");
const fresh = (over: Parameters<typeof posture>[0] = {}) => ({ posture: posture(over, NOW - 60_000) });

describe("compareVersions", () => {
  it("compares numeric dotted prefixes, missing parts as zero", () => {
    assert.equal(compareVersions("22.04", "24.04"), -1);
    assert.equal(compareVersions("24.04", "22.04"), 1);
    assert.equal(compareVersions("14.2", "14.2.0"), 0);
    assert.equal(compareVersions("12", "11.9"), 1);
    assert.equal(compareVersions("10.0.22631", "10.0.19045"), 1);
    assert.equal(compareVersions("13.1-rc", "13.1"), 0);
  });
  it("is NaN when a version has no numeric prefix", () => {
    assert.ok(Number.isNaN(compareVersions("unknown", "12")));
    assert.ok(Number.isNaN(compareVersions("12", "rolling")));
  });
});

describe("PosturePolicy.evaluate", () => {
  it("is compliant with fresh posture that meets the default requirements", () => {
    const v = new PosturePolicy().evaluate(fresh(), NOW);
    assert.deepEqual(v, { compliant: true, reasons: [] });
  });

  it("is not compliant without any posture", () => {
    const v = new PosturePolicy().evaluate({}, NOW);
    assert.equal(v.compliant, false);
    assert.deepEqual(v.reasons, ["no posture reported yet"]);
  });

  it("counts stale posture as not compliant, from collectedAt and the configured max age", () => {
    const p = new PosturePolicy({ maxAge: "1h" });
    assert.equal(p.maxAgeMs, 3600_000);
    const d = { posture: posture({}, NOW - 3600_000) };
    assert.equal(p.evaluate(d, NOW).compliant, true, "exactly max age is still fresh");
    const v = p.evaluate(d, NOW + 1);
    assert.equal(v.compliant, false);
    assert.match(v.reasons[0]!, /stale.*1h/);
    // The default is 24 hours.
    assert.equal(new PosturePolicy().evaluate({ posture: posture({}, NOW - 25 * 3600_000) }, NOW).compliant, false);
    assert.equal(new PosturePolicy().evaluate({ posture: posture({}, NOW - 23 * 3600_000) }, NOW).compliant, true);
  });

  it("requires the configured checks to be on; unknown and off both fail", () => {
    const p = new PosturePolicy({ require: ["diskEncryption", "screenLock", "firewall"] });
    const v = p.evaluate(fresh({ diskEncryption: "unknown", screenLock: "off", firewall: "on" }), NOW);
    assert.equal(v.compliant, false);
    assert.deepEqual(v.reasons, ["diskEncryption is unknown (required: on)", "screenLock is off (required: on)"]);
    // Not required: not looked at.
    const none = new PosturePolicy({ require: [] });
    assert.equal(none.evaluate(fresh({ diskEncryption: "off", screenLock: "off", firewall: "unknown" }), NOW).compliant, true);
  });

  it("by default requires disk encryption and the firewall but not the screen lock", () => {
    const p = new PosturePolicy();
    assert.equal(p.evaluate(fresh({ screenLock: "unknown" }), NOW).compliant, true);
    assert.equal(p.evaluate(fresh({ firewall: "unknown" }), NOW).compliant, false);
    assert.equal(p.evaluate(fresh({ diskEncryption: "off" }), NOW).compliant, false);
  });

  it("requires managed = true when configured (unknown is not enough)", () => {
    const p = new PosturePolicy({ requireManaged: true });
    assert.equal(p.evaluate(fresh({ managed: true }), NOW).compliant, true);
    assert.match(p.evaluate(fresh({ managed: "unknown" }), NOW).reasons[0]!, /not known to be managed/);
    assert.match(p.evaluate(fresh({ managed: false }), NOW).reasons[0]!, /not managed/);
  });

  it("enforces minimum OS versions per OS name, case-insensitively", () => {
    const p = new PosturePolicy({ minOsVersion: { Ubuntu: "22.04", macos: "14.2" } });
    assert.equal(p.evaluate(fresh({ os: { name: "ubuntu", version: "24.04" } }), NOW).compliant, true);
    assert.equal(p.evaluate(fresh({ os: { name: "ubuntu", version: "22.04" } }), NOW).compliant, true);
    const old = p.evaluate(fresh({ os: { name: "ubuntu", version: "20.04" } }), NOW);
    assert.deepEqual(old.reasons, ["ubuntu 20.04 is older than the minimum 22.04"]);
    assert.match(p.evaluate(fresh({ os: { name: "macos", version: "unknown" } }), NOW).reasons[0]!, /cannot be compared/);
    // An OS without a minimum is not held to one.
    assert.equal(p.evaluate(fresh({ os: { name: "fedora", version: "1" } }), NOW).compliant, true);
  });

  it("limits OS names when allowedOs is set", () => {
    const p = new PosturePolicy({ allowedOs: ["debian", "macOS"] });
    assert.equal(p.evaluate(fresh({ os: { name: "MacOS", version: "14" } }), NOW).compliant, true);
    assert.match(p.evaluate(fresh({ os: { name: "windows", version: "10" } }), NOW).reasons[0]!, /not allowed/);
  });

  it("lists every failed requirement", () => {
    const p = new PosturePolicy({ require: ["diskEncryption", "firewall"], requireManaged: true, minOsVersion: { debian: "13" }, maxAge: "1h" });
    const v = p.evaluate({ posture: posture({ diskEncryption: "off", firewall: "unknown", managed: false }, NOW - 2 * 3600_000) }, NOW);
    assert.equal(v.reasons.length, 5, v.reasons.join("\n"));
  });
});

describe("parsePosturePolicy", () => {
  it("reads a configuration object", () => {
    const p = parsePosturePolicy({ require: ["screenLock"], requireManaged: true, maxAge: "12h", minOsVersion: { debian: "12" }, allowedOs: ["debian"] });
    assert.deepEqual(p.required, ["screenLock"]);
    assert.equal(p.requireManaged, true);
    assert.equal(p.maxAgeMs, 12 * 3600_000);
    assert.equal(parsePosturePolicy(undefined).maxAgeMs, 24 * 3600_000);
  });

  it("refuses bad configuration with validation_error", () => {
    const bad: unknown[] = [
      { require: ["antivirus"] },
      { maxAge: "soon" },
      { maxAge: -5 },
      { minOsVersion: { debian: "twelve" } },
      { requireManaged: "yes" },
      { unknownKey: 1 },
      "not an object",
    ];
    for (const b of bad) {
      assert.throws(() => parsePosturePolicy(b), (e: unknown) => e instanceof TenetError && e.code === "validation_error", JSON.stringify(b));
    }
  });
});

describe("posture schema", () => {
  it("accepts a well-formed posture", () => {
    const p = posture();
    assert.deepEqual(parsePosture(p), p);
    assert.deepEqual(parsePosture({ ...p, managed: false }).managed, false);
  });

  it("refuses malformed posture, naming the field", () => {
    const p = posture();
    const cases: Array<[unknown, RegExp]> = [
      [{ ...p, diskEncryption: "yes" }, /posture\.diskEncryption/],
      [{ ...p, firewall: true }, /posture\.firewall/],
      [{ ...p, managed: "maybe" }, /posture\.managed/],
      [{ ...p, collectedAt: "yesterday" }, /posture\.collectedAt/],
      [{ ...p, os: { name: "", version: "1" } }, /posture\.os\.name/],
      [{ ...p, os: { name: "debian", version: "1\n2" } }, /posture\.os\.version/],
      [{ ...p, os: { name: "debian" } }, /posture\.os\.version/],
      [{ ...p, extra: 1 }, /extra/],
      [{ ...p, screenLock: undefined }, /posture\.screenLock/],
      [null, /posture/],
    ];
    for (const [value, where] of cases) {
      assert.throws(() => parsePosture(value), (e: unknown) => e instanceof TenetError && e.code === "validation_error" && where.test(e.message), JSON.stringify(value));
    }
  });
});
