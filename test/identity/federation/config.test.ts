import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { inspect } from "node:util";
import { ACR } from "../../../src/identity/acr.js";
import { parseFederationConfig } from "../../../src/identity/federation/config.js";
import { TenetError } from "../../../src/errors.js";

const minimal = { id: "okta", name: "Okta", issuer: "https://example.okta.com", clientId: "0oa1", clientSecretEnv: "OKTA_SECRET" };
const env = { OKTA_SECRET: "okta-secret-value-42" };

function problems(raw: unknown, e: NodeJS.ProcessEnv = env): string[] {
  try {
    parseFederationConfig(raw, e);
  } catch (err) {
    assert.ok(err instanceof TenetError);
    assert.equal(err.code, "validation_error");
    return err.details.map((d) => `${d.where}: ${d.message}`);
  }
  throw new Error("expected a validation_error");
}

describe("federation configuration", () => {
  it("fills in the defaults", () => {
    const c = parseFederationConfig({ providers: [minimal] }, env);
    const p = c.providers[0]!;
    assert.deepEqual(
      { ...p, groupMapping: undefined },
      {
        id: "okta", name: "Okta", issuer: "https://example.okta.com", clientId: "0oa1", tokenEndpointAuthMethod: "client_secret_basic",
        scopes: ["openid", "email", "profile"], usernameClaim: "preferred_username", groupsClaim: "groups", groupMapping: undefined,
        trustAssurance: false, acrMap: {}, trustEmail: false, provisioning: "existing-only", allowInsecureRequests: false,
      },
    );
    assert.equal(p.clientSecret, "okta-secret-value-42");
    assert.deepEqual(parseFederationConfig(undefined, env), { providers: [] });
    assert.deepEqual(parseFederationConfig({}, env), { providers: [] });
  });

  it("compiles the group mapping: exact values and globs, over the groups claim or another", () => {
    const p = parseFederationConfig({
      providers: [{ ...minimal, groupsClaim: "roles", groupMapping: [{ value: "eng-*", group: "engineering" }, { value: "a?c", group: "abc" }, { value: "x.y", group: "xy" }, { value: "true", group: "contractors", claim: "is_contractor" }] }],
    }, env).providers[0]!;
    const [eng, abc, xy, contractors] = p.groupMapping;
    assert.equal(eng!.claim, "roles");
    assert.equal(contractors!.claim, "is_contractor");
    assert.ok(eng!.matches("eng-backend") && eng!.matches("eng-") && !eng!.matches("xeng-a") && !eng!.matches("Eng-a"));
    assert.ok(abc!.matches("abc") && abc!.matches("a-c") && !abc!.matches("ac"));
    assert.ok(xy!.matches("x.y") && !xy!.matches("xzy"), "a dot is literal");
  });

  it("maps upstream acr values to Tenet's", () => {
    const p = parseFederationConfig({ providers: [{ ...minimal, trustAssurance: true, acrMap: { "urn:okta:loa:2fa:any": "mfa", phr: ACR.phishingResistant } }] }, env).providers[0]!;
    assert.deepEqual(p.acrMap, { "urn:okta:loa:2fa:any": ACR.mfa, phr: ACR.phishingResistant });
  });

  it("names every wrong field", () => {
    const found = problems({
      providers: [
        { ...minimal, id: "Okta Prod", colour: "blue" },
        { ...minimal, id: "b", issuer: "http://idp.example" },
        { ...minimal, id: "c", issuer: "https://idp.example/?tenant=1" },
        { ...minimal, id: "d", issuer: "not a url" },
        { ...minimal, id: "e", scopes: ["email"] },
        { ...minimal, id: "f", groupMapping: [{ value: "x", group: "bad group" }] },
        { ...minimal, id: "g", provisioning: "always" },
        { ...minimal, id: "h", acrMap: { x: "gold", y: "constructor" } },
        { ...minimal, id: "i", usernameClaim: "a b" },
        { ...minimal, id: "j", clientSecret: "inline" },
        { id: "k", name: "K", issuer: "https://k.example", clientId: "c" },
        { ...minimal, id: "l", tokenEndpointAuthMethod: "private_key_jwt" },
        { ...minimal, id: "m", issuer: "https://user:pw@idp.example" },
      ],
    });
    const expect = [
      /providers\[0\]\.id: must be a slug/,
      /providers\[0\]\.colour: is not a federation setting/,
      /providers\[1\]\.issuer: must be an https URL/,
      /providers\[2\]\.issuer: must not have a query/,
      /providers\[3\]\.issuer: must be a URL/,
      /providers\[4\]\.scopes: must include 'openid'/,
      /providers\[5\]\.groupMapping\[0\]\.group: must be a Tenet group id/,
      /providers\[6\]\.provisioning:/,
      /providers\[7\]\.acrMap\.x: must be a Tenet acr/,
      /providers\[7\]\.acrMap\.y: must be a Tenet acr/,
      /providers\[8\]\.usernameClaim: must be a claim name/,
      /providers\[9\]\.clientSecretEnv: give exactly one of clientSecret and clientSecretEnv/,
      /providers\[10\]\.clientSecretEnv: give exactly one/,
      /providers\[11\]\.tokenEndpointAuthMethod:/,
      /providers\[12\]\.issuer: must not hold credentials/,
    ];
    for (const re of expect) assert.ok(found.some((f) => re.test(f)), `${re} in ${found.join(" | ")}`);
    assert.ok(found.every((f) => f.startsWith("identity.federation.providers[")), found.join(" | "));
    assert.ok(!found.join(" ").includes("okta-secret-value-42"));
  });

  it("http issuers only with allowInsecureRequests; duplicate ids; unset secret variables", () => {
    assert.equal(parseFederationConfig({ providers: [{ ...minimal, issuer: "http://127.0.0.1:9999", allowInsecureRequests: true }] }, env).providers[0]!.issuer, "http://127.0.0.1:9999");
    assert.deepEqual(problems({ providers: [minimal, { ...minimal, name: "Again" }] }), ["identity.federation.providers[1].id: 'okta' is used by another provider"]);
    assert.deepEqual(problems({ providers: [minimal] }, {}), ["identity.federation.providers[0].clientSecretEnv: the environment variable OKTA_SECRET is not set"]);
    assert.deepEqual(problems({ providers: [{ ...minimal, clientSecretEnv: undefined, clientSecret: "" }] }), ["identity.federation.providers[0].clientSecret: must not be empty"]);
    assert.ok(problems({ providers: "okta" }).length > 0);
    assert.ok(problems({ providers: [null] }).length > 0);
  });

  it("keeps the secret out of JSON, inspection and spreads, and out of error messages", () => {
    const c = parseFederationConfig({ providers: [{ ...minimal, clientSecretEnv: undefined, clientSecret: "inline-secret-zz9" }] }, {});
    assert.equal(c.providers[0]!.clientSecret, "inline-secret-zz9");
    for (const text of [JSON.stringify(c), inspect(c, { depth: 10, showHidden: false }), JSON.stringify({ ...c.providers[0] })]) assert.ok(!text.includes("inline-secret-zz9"));
    const bad = problems({ providers: [{ ...minimal, id: "BAD", clientSecretEnv: undefined, clientSecret: "inline-secret-zz9" }] });
    assert.ok(!bad.join(" ").includes("inline-secret-zz9"));
    // A secret of the wrong type is named, not shown.
    const wrongType = problems({ providers: [{ ...minimal, clientSecretEnv: undefined, clientSecret: 1234567891234 }] });
    assert.ok(!wrongType.join(" ").includes("1234567891234"));
  });

  it("uses the caller's path in messages", () => {
    try {
      parseFederationConfig({ providers: [{ ...minimal, id: "X" }] }, env, "federation");
      assert.fail("expected an error");
    } catch (err) {
      assert.match((err as Error).message, /^invalid federation configuration: federation\.providers\[0\]\.id: /);
    }
  });
});
