import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ACR } from "../../../src/identity/acr.js";
import type { IdentityEvent } from "../../../src/identity/events.js";
import { ssfConfiguration, ssfConfigurationPath } from "../../../src/identity/signals/configuration.js";
import { CAEP, RISC_RECOVERY_INFORMATION_CHANGED, securityEvents, SUPPORTED_EVENTS } from "../../../src/identity/signals/events.js";
import { es256Signer, setPayload, signSet } from "../../../src/identity/signals/set.js";
import { retryDelay } from "../../../src/identity/signals/transmitter.js";

const ISS = "https://tenet.test";
const T = 1_700_000_000;
const user = { format: "iss_sub", iss: ISS, sub: "anne" };
const one = (e: IdentityEvent) => {
  const out = securityEvents(e, ISS, T);
  assert.equal(out.length, 1, `${e.type} maps to one event`);
  return out[0]!;
};

describe("identity events as CAEP events", () => {
  it("the event type URIs are CAEP 1.0's", () => {
    assert.deepEqual(Object.values(CAEP), [
      "https://schemas.openid.net/secevent/caep/event-type/session-revoked",
      "https://schemas.openid.net/secevent/caep/event-type/credential-change",
      "https://schemas.openid.net/secevent/caep/event-type/assurance-level-change",
      "https://schemas.openid.net/secevent/caep/event-type/device-compliance-change",
      "https://schemas.openid.net/secevent/caep/event-type/risk-level-change",
    ]);
  });

  it("a suspension revokes every session of the user (complex subject with the user only)", () => {
    const s = one({ type: "user.suspended", userId: "anne", reason: "left the company" });
    assert.equal(s.type, CAEP.sessionRevoked);
    assert.deepEqual(s.subject, { format: "complex", user });
    assert.deepEqual(s.event, { event_timestamp: T, initiating_entity: "admin", reason_admin: { en: "left the company" } });
    assert.equal(one({ type: "user.deleted", userId: "anne" }).type, CAEP.sessionRevoked);
  });

  it("a revoked session names the session (opaque) and the user", () => {
    const s = one({ type: "session.revoked", userId: "anne", sessionId: "S1", reason: "signed out\neverywhere" });
    assert.deepEqual(s.subject, { format: "complex", user, session: { format: "opaque", id: "S1" } });
    assert.deepEqual(s.event, { event_timestamp: T, reason_admin: { en: "signed out everywhere" } }, "control characters are not passed on");
  });

  it("credentials: passkeys are fido2, TOTP an app, recovery codes RISC recovery-information-changed", () => {
    const added = one({ type: "credential.added", userId: "anne", credential: "totp" });
    assert.equal(added.type, CAEP.credentialChange);
    assert.deepEqual(added.subject, user);
    assert.deepEqual(added.event, { event_timestamp: T, credential_type: "app", change_type: "create" });
    const removed = one({ type: "credential.removed", userId: "anne", credential: "passkey", credentialId: "c1" });
    assert.equal(removed.event.credential_type, "fido2-platform");
    assert.equal(removed.event.change_type, "delete");
    // Publishers may add detail beyond the declared type: a roaming key with its AAGUID.
    const roaming = one({ type: "credential.added", userId: "anne", credential: "passkey", authenticatorAttachment: "cross-platform", aaguid: "CB69481E-8FF7-4039-93EC-0A2729A154A8", initiator: "user" } as IdentityEvent);
    assert.equal(roaming.event.credential_type, "fido2-roaming");
    assert.equal(roaming.event.fido2_aaguid, "cb69481e-8ff7-4039-93ec-0a2729a154a8");
    assert.equal(roaming.event.initiating_entity, "user");
    const bogus = one({ type: "credential.added", userId: "anne", credential: "passkey", aaguid: "not-a-guid", initiator: "root" } as IdentityEvent);
    assert.equal(bogus.event.fido2_aaguid, undefined);
    assert.equal(bogus.event.initiating_entity, undefined, "an initiator CAEP does not define is not passed on");
    const codes = one({ type: "credential.added", userId: "anne", credential: "recovery_codes" });
    assert.equal(codes.type, RISC_RECOVERY_INFORMATION_CHANGED);
  });

  it("device compliance: current and previous status, the reasons for the admin", () => {
    const s = one({ type: "device.compliance_changed", userId: "anne", deviceId: "D1", compliant: false, reasons: ["disk not encrypted", "posture stale"] });
    assert.equal(s.type, CAEP.deviceComplianceChange);
    assert.deepEqual(s.subject, { format: "complex", user, device: { format: "iss_sub", iss: ISS, sub: "D1" } });
    assert.deepEqual(s.event, {
      event_timestamp: T,
      initiating_entity: "policy",
      current_status: "not-compliant",
      previous_status: "compliant",
      reason_admin: { en: "disk not encrypted; posture stale" },
    });
    const back = one({ type: "device.compliance_changed", userId: "anne", deviceId: "D1", compliant: true, reasons: [] });
    assert.equal(back.event.current_status, "compliant");
    assert.equal(back.event.previous_status, "not-compliant");
    assert.equal(back.event.reason_admin, undefined);
  });

  it("assurance: NIST AAL levels with the direction, and the acr values along", () => {
    const down = one({ type: "session.assurance_changed", userId: "anne", sessionId: "S1", previous: ACR.hardware, current: ACR.mfa });
    assert.equal(down.type, CAEP.assuranceLevelChange);
    assert.deepEqual(down.event, {
      event_timestamp: T,
      namespace: "NIST-AAL",
      current_level: "nist-aal2",
      current_acr: ACR.mfa,
      previous_level: "nist-aal3",
      previous_acr: ACR.hardware,
      change_direction: "decrease",
    });
    const up = one({ type: "session.assurance_changed", userId: "anne", sessionId: "S1", previous: "mfa", current: "phishing-resistant" });
    assert.equal(up.event.change_direction, "increase", "within AAL2, the acr still rose");
    const fromUnknown = one({ type: "session.assurance_changed", userId: "anne", sessionId: "S1", previous: "whatever", current: ACR.none });
    assert.equal(fromUnknown.event.current_level, "nist-aal1");
    assert.equal(fromUnknown.event.previous_level, undefined);
    assert.equal(fromUnknown.event.change_direction, undefined);
    assert.deepEqual(securityEvents({ type: "session.assurance_changed", userId: "anne", sessionId: "S1", previous: ACR.mfa, current: "bogus" }, ISS, T), []);
  });

  it("risk: CAEP levels for the user; critical is HIGH; no event within one level or for unknown levels", () => {
    const s = one({ type: "risk.changed", userId: "anne", previous: "low", current: "high" });
    assert.equal(s.type, CAEP.riskLevelChange);
    assert.deepEqual(s.subject, user);
    assert.deepEqual(s.event, { event_timestamp: T, initiating_entity: "system", principal: "USER", current_level: "HIGH", previous_level: "LOW" });
    assert.equal(one({ type: "risk.changed", userId: "anne", previous: "critical", current: "Medium" }).event.current_level, "MEDIUM");
    assert.deepEqual(securityEvents({ type: "risk.changed", userId: "anne", previous: "high", current: "critical" }, ISS, T), []);
    assert.deepEqual(securityEvents({ type: "risk.changed", userId: "anne", previous: "low", current: "extreme" }, ISS, T), []);
    assert.equal(one({ type: "risk.changed", userId: "anne", previous: "?", current: "low" }).event.previous_level, undefined);
  });

  it("events with nothing to tell map to nothing", () => {
    assert.deepEqual(securityEvents({ type: "user.reactivated", userId: "anne" }, ISS, T), []);
    assert.deepEqual(securityEvents({ type: "device.removed", userId: "anne", deviceId: "D1" }, ISS, T), []);
  });
});

describe("SETs and metadata", () => {
  it("a SET is typed secevent+jwt, has sub_id and events, and never sub or exp", async () => {
    const signer = await es256Signer(ISS, "k1");
    const payload = setPayload({ issuer: ISS, audience: "https://rp.example", jti: "J1", iat: T, txn: "X1", subject: { format: "opaque", id: "s" }, type: CAEP.sessionRevoked, event: {} });
    assert.deepEqual(payload, { iss: ISS, jti: "J1", iat: T, aud: "https://rp.example", txn: "X1", sub_id: { format: "opaque", id: "s" }, events: { [CAEP.sessionRevoked]: {} } });
    const token = await signSet(signer, payload);
    const header = JSON.parse(Buffer.from(token.split(".")[0]!, "base64url").toString());
    assert.deepEqual(header, { alg: "ES256", kid: "k1", typ: "secevent+jwt" });
    await assert.rejects(signSet(signer, { ...payload, sub: "anne" }), /must not have sub or exp/);
    await assert.rejects(signSet(signer, { ...payload, exp: T + 60 }), /must not have sub or exp/);
    assert.equal(signer.jwks.keys[0]!.d, undefined, "the JWKS holds the public key only");
  });

  it("the SSF configuration document", () => {
    const c = ssfConfiguration("https://tenet.test", "https://tenet.test/oidc/jwks");
    assert.equal(c.spec_version, "1_0");
    assert.equal(c.issuer, "https://tenet.test");
    assert.equal(c.jwks_uri, "https://tenet.test/oidc/jwks");
    assert.deepEqual(c.delivery_methods_supported, ["urn:ietf:rfc:8935"]);
    assert.deepEqual(c.events_supported, [...SUPPORTED_EVENTS]);
    assert.equal(ssfConfigurationPath("https://tenet.test"), "/.well-known/ssf-configuration");
    assert.equal(ssfConfigurationPath("https://tenet.test/tenant1/"), "/.well-known/ssf-configuration/tenant1");
  });

  it("retry delays double, stay in their upper half, and are capped", () => {
    assert.equal(retryDelay(1, 1000, 300_000, () => 0), 500);
    assert.equal(retryDelay(1, 1000, 300_000, () => 0.999999), 1000);
    assert.equal(retryDelay(3, 1000, 300_000, () => 0), 2000);
    assert.equal(retryDelay(4, 1000, 300_000, () => 0.5), 6000);
    assert.equal(retryDelay(30, 1000, 300_000, () => 0.999999), 300_000);
    assert.equal(retryDelay(30, 1000, 300_000, () => 0), 150_000);
  });
});
