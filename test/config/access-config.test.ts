/**
 * The access configuration file: defaults, a full file, and every kind of mistake refused with
 * the file and the field named (never a secret's value).
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { defaultAccessConfig, loadAccessConfig, parseAccessConfig } from "../../src/config/access-config.js";
import { TenetError } from "../../src/errors.js";
import { parseRiskConfig } from "../../src/policy/risk/config.js";

const dir = mkdtempSync(join(tmpdir(), "tenet-access-config-"));
after(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;
const file = (text: string): string => {
  const p = join(dir, `access-${n++}.yaml`);
  writeFileSync(p, text);
  return p;
};

const SECRET = "webhook-secret-0123456789";

/** The TenetError thrown by fn (fails when none is). */
function error(fn: () => unknown): TenetError {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof TenetError, String(err));
    assert.equal(err.code, "validation_error");
    return err;
  }
  assert.fail("no error thrown");
}

describe("access configuration: valid files", () => {
  test("no file: every section at its defaults", () => {
    const c = defaultAccessConfig();
    assert.equal(c.source, undefined);
    assert.equal(c.baseDir, process.cwd());
    assert.deepEqual(c.risk, parseRiskConfig({}));
    assert.deepEqual(c.zones, {});
    assert.deepEqual(c.jit, { maxDuration: "8h", breakGlassMaxDuration: "1h", pendingTtl: "24h", webhooks: [] });
    assert.deepEqual(c.notify, { security: [] });
    assert.deepEqual(loadAccessConfig(file("")).zones, {}, "an empty file is the defaults");
    assert.deepEqual(loadAccessConfig(file("# nothing yet\n")).jit.webhooks, []);
  });

  test("a full file; the webhook secret from the environment, readable but never serialised", () => {
    const path = file(`
risk:
  thresholds: { medium: 25 }
  ipReputation: { deny: ["203.0.113.0/24"], denyFiles: [deny.txt] }
zones:
  corp: ["10.0.0.0/8", "2001:db8::/32"]
  vpn: [100.64.0.0/10]
jit:
  maxDuration: 4h
  breakGlassMaxDuration: 30m
  pendingTtl: P2D
  webhooks:
    - url: https://hooks.example.com/tenet
      secretEnv: HOOK_SECRET
    - url: http://127.0.0.1:9000/inline
      secret: ${SECRET}-inline
notify:
  security: [user:secops, group:soc]
`);
    const c = loadAccessConfig(path, { HOOK_SECRET: SECRET });
    assert.equal(c.source, path);
    assert.equal(c.baseDir, dir, "relative risk files are resolved next to the file");
    assert.equal(c.risk.thresholds.medium, 25);
    assert.deepEqual(c.risk.ipReputation.denyFiles, ["deny.txt"]);
    assert.deepEqual(c.zones, { corp: ["10.0.0.0/8", "2001:db8::/32"], vpn: ["100.64.0.0/10"] });
    assert.deepEqual({ ...c.jit, webhooks: undefined }, { maxDuration: "4h", breakGlassMaxDuration: "30m", pendingTtl: "P2D", webhooks: undefined });
    assert.deepEqual(c.jit.webhooks.map((w) => [w.url, w.secret]), [["https://hooks.example.com/tenet", SECRET], ["http://127.0.0.1:9000/inline", `${SECRET}-inline`]]);
    assert.deepEqual(c.notify.security, ["user:secops", "group:soc"]);
    const shown = JSON.stringify(c) + JSON.stringify({ ...c.jit.webhooks[0] });
    assert.ok(!shown.includes(SECRET), `the secret is serialised: ${shown}`);
  });

  test("an object given in code (tests, embedding) takes the same checks", () => {
    const c = parseAccessConfig({ zones: { lab: ["192.0.2.0/24"] } });
    assert.deepEqual(c.zones, { lab: ["192.0.2.0/24"] });
    assert.match(error(() => parseAccessConfig({ zones: { lab: ["nope"] } })).message, /^invalid access configuration in access configuration: zones\.lab\[0\]: must be an IP address or CIDR range/);
  });
});

describe("access configuration: mistakes name the file and the field", () => {
  const cases: Array<{ what: string; yaml: string; env?: NodeJS.ProcessEnv; where: string; message: RegExp; secret?: string }> = [
    { what: "an unknown section", yaml: "zone:\n  corp: [10.0.0.0/8]\n", where: "zone", message: /is not an access setting/ },
    { what: "an unknown JIT key", yaml: "jit:\n  maxDurations: 8h\n", where: "jit.maxDurations", message: /is not an access setting/ },
    { what: "an unknown webhook key", yaml: `jit:\n  webhooks:\n    - { url: "http://x.example", secret: ${SECRET}, sceret: x }\n`, where: "jit.webhooks[0].sceret", message: /is not an access setting/ },
    { what: "an unknown risk key (the risk engine's own message)", yaml: "risk:\n  weight: { ip_reputation: 2 }\n", where: "risk.weight", message: /is not a risk setting/ },
    { what: "a weight for a signal the server does not have", yaml: "risk:\n  weights: { ip_reputaton: 2 }\n", where: "risk.weights.ip_reputaton", message: /there is no signal named 'ip_reputaton' \(signals: ip_reputation, / },
    { what: "a bad risk value", yaml: "risk:\n  thresholds: { medium: 70, high: 60 }\n", where: "risk.thresholds.high", message: /greater than thresholds\.medium/ },
    { what: "a bad CIDR", yaml: 'zones:\n  corp: ["10.0.0.0/8", "10.0.0.0/33"]\n', where: "zones.corp[1]", message: /must be an IP address or CIDR range/ },
    { what: "an empty zone", yaml: "zones:\n  corp: []\n", where: "zones.corp", message: /at least one range/ },
    { what: "a bad zone name", yaml: 'zones:\n  "corp net": [10.0.0.0/8]\n', where: "zones.corp net", message: /zone name/ },
    { what: "a bad duration", yaml: "jit:\n  maxDuration: 8 hours\n", where: "jit.maxDuration", message: /must be a duration such as/ },
    { what: "a duration as a bare number", yaml: "jit:\n  pendingTtl: 3600\n", where: "jit.pendingTtl", message: /expected string/ },
    { what: "a missing secret variable", yaml: "jit:\n  webhooks:\n    - { url: https://h.example, secretEnv: NOT_SET_ANYWHERE }\n", where: "jit.webhooks[0].secretEnv", message: /the environment variable NOT_SET_ANYWHERE is not set/ },
    {
      what: "a short secret variable (its value not echoed)",
      yaml: "jit:\n  webhooks:\n    - { url: https://h.example, secretEnv: SHORT }\n",
      env: { SHORT: "Sh0rtS3cret" },
      where: "jit.webhooks[0].secretEnv",
      message: /SHORT holds fewer than 16 characters/,
      secret: "Sh0rtS3cret",
    },
    { what: "a short inline secret (not echoed)", yaml: "jit:\n  webhooks:\n    - { url: https://h.example, secret: Sh0rtS3cret }\n", where: "jit.webhooks[0].secret", message: /at least 16 characters/, secret: "Sh0rtS3cret" },
    { what: "both secret and secretEnv", yaml: `jit:\n  webhooks:\n    - { url: https://h.example, secret: ${SECRET}, secretEnv: X }\n`, where: "jit.webhooks[0]", message: /exactly one of secret and secretEnv/, secret: SECRET },
    { what: "no secret at all", yaml: "jit:\n  webhooks:\n    - { url: https://h.example }\n", where: "jit.webhooks[0]", message: /exactly one of secret and secretEnv/ },
    { what: "a bad secretEnv name", yaml: "jit:\n  webhooks:\n    - { url: https://h.example, secretEnv: 'A-B' }\n", where: "jit.webhooks[0].secretEnv", message: /environment variable name/ },
    { what: "credentials in a webhook URL", yaml: `jit:\n  webhooks:\n    - { url: "https://u:Pw0rd@h.example", secret: ${SECRET} }\n`, where: "jit.webhooks[0].url", message: /must not hold credentials/, secret: SECRET },
    { what: "a webhook URL that is not http(s)", yaml: `jit:\n  webhooks:\n    - { url: "ftp://h.example", secret: ${SECRET} }\n`, where: "jit.webhooks[0].url", message: /must use http or https/ },
    { what: "a security recipient that is not a subject", yaml: "notify:\n  security: [secops]\n", where: "notify.security[0]", message: /one subject such as 'user:secops'/ },
  ];
  for (const c of cases) {
    test(c.what, () => {
      const path = file(c.yaml);
      const err = error(() => loadAccessConfig(path, c.env ?? {}));
      assert.ok(err.message.startsWith(`invalid access configuration in ${path}: `), err.message);
      const d = err.details.find((x) => x.where === c.where);
      assert.ok(d, `no detail for ${c.where}: ${JSON.stringify(err.details)}`);
      assert.match(d.message, c.message);
      assert.ok(err.message.includes(`${c.where}: `), err.message);
      assert.ok(!err.message.includes("\n"), "one line");
      if (c.secret) assert.ok(!JSON.stringify({ m: err.message, d: err.details }).includes(c.secret), `the secret is echoed: ${err.message}`);
    });
  }

  test("every mistake is reported at once", () => {
    const err = error(() => loadAccessConfig(file("zones:\n  corp: [bad]\njit:\n  maxDuration: soon\nrisk:\n  weight: {}\nnotify:\n  security: [x]\n"), {}));
    assert.deepEqual(err.details.map((d) => d.where).sort(), ["jit.maxDuration", "notify.security[0]", "risk.weight", "zones.corp[0]"]);
  });

  test("YAML syntax: the file and line", () => {
    const path = file("zones:\n  corp: [10.0.0.0/8\njit: {}\n");
    assert.match(error(() => loadAccessConfig(path)).message, new RegExp(`^invalid access configuration in ${path.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}:\\d+: YAML: `));
    assert.match(error(() => loadAccessConfig(file("zones: {}\nzones: {}\n"))).message, /:2: YAML: .*[Mm]ap keys must be unique/);
  });

  test("a file that is not a mapping, or cannot be read", () => {
    assert.match(error(() => loadAccessConfig(file("- risk\n- zones\n"))).message, /must be a mapping \(risk, zones, jit, notify\)/);
    assert.match(error(() => loadAccessConfig(join(dir, "missing.yaml"))).message, /^invalid access configuration: cannot read .*missing\.yaml \(ENOENT\)$/);
  });
});
