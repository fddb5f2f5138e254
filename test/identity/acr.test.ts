/** Assurance levels: the factors → acr/amr table, and one set of values shared with access policies. */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ACR, ACR_VALUES_SUPPORTED, acrLevel, assurance, normaliseAcr, satisfies } from "../../src/identity/acr.js";
import { assuranceOf } from "../../src/policy/access/evaluate.js";
import { ACR_URIS } from "../../src/policy/access/types.js";

describe("acr and amr", () => {
  it("maps factors to levels (RFC 8176 amr values)", () => {
    assert.deepEqual(assurance({ passkey: { hardware: false } }), { acr: ACR.phishingResistant, amr: ["mfa", "swk", "user"] });
    assert.deepEqual(assurance({ passkey: { hardware: true } }), { acr: ACR.hardware, amr: ["hwk", "mfa", "user"] });
    assert.deepEqual(assurance({ recoveryCode: true }), { acr: ACR.none, amr: ["otp"] });
    assert.deepEqual(assurance({ upstream: { acr: ACR.hardware, amr: ["hwk"], trusted: false } }), { acr: ACR.none, amr: [] });
    assert.deepEqual(assurance({ upstream: { acr: ACR.phishingResistant, amr: ["mfa", "hwk"], trusted: true } }), { acr: ACR.phishingResistant, amr: ["hwk", "mfa"] });
    assert.deepEqual(assurance({ upstream: { trusted: false }, totp: true }), { acr: ACR.mfa, amr: ["mfa", "otp"] });
  });

  it("orders levels; unknown values satisfy nothing", () => {
    assert.ok(satisfies(ACR.hardware, ACR.mfa));
    assert.ok(!satisfies(ACR.mfa, ACR.phishingResistant));
    assert.ok(!satisfies("urn:example:unknown", ACR.none));
    assert.equal(normaliseAcr("constructor"), undefined);
    assert.equal(normaliseAcr(42), undefined);
    assert.equal(acrLevel(undefined), -1);
    assert.equal(normaliseAcr("urn:tenet:acr:hardware"), ACR.hardware);
  });

  it("access policies and the identity provider speak the same values", () => {
    // A policy's challenge is passed as acr_values: the provider must know it, at the same level.
    for (const uri of Object.values(ACR_URIS)) {
      assert.ok(ACR_VALUES_SUPPORTED.includes(normaliseAcr(uri)!), uri);
      assert.equal(assuranceOf(uri), acrLevel(uri));
    }
    // And what the provider puts in tokens is understood by the decision point.
    for (const v of ACR_VALUES_SUPPORTED) assert.equal(assuranceOf(v), acrLevel(v));
  });
});
