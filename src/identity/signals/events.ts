/**
 * What Tenet tells Shared Signals receivers, and in which words: the identity bus's events
 * (../events.ts) as OpenID CAEP 1.0 events (openid-caep-1_0, final, 2025) with their subjects as
 * RFC 9493 Subject Identifiers in the SSF 1.0 `sub_id` style.
 *
 *   user.suspended / user.deleted     → caep session-revoked     sub_id: complex { user }  (every session)
 *   session.revoked                   → caep session-revoked     sub_id: complex { user, session }
 *   credential.added / .removed       → caep credential-change   sub_id: iss_sub (the user)
 *     (recovery codes)                → risc recovery-information-changed
 *   device.compliance_changed         → caep device-compliance-change  sub_id: complex { user, device }
 *   session.assurance_changed         → caep assurance-level-change    sub_id: complex { user, session }
 *   risk.changed                      → caep risk-level-change   sub_id: iss_sub, principal USER
 *
 * Events with nothing to tell (a reactivation, a device removed, a risk change within one CAEP
 * level) map to nothing. Users and devices are `iss_sub` under Tenet's issuer (the user id is the
 * `sub` of Tenet's tokens); sessions are `opaque`.
 */
import { acrLevel } from "../acr.js";
import type { IdentityEvent } from "../events.js";

const CAEP_BASE = "https://schemas.openid.net/secevent/caep/event-type/";

/** The CAEP 1.0 event type URIs Tenet sends (CAEP §3). */
export const CAEP = {
  sessionRevoked: `${CAEP_BASE}session-revoked`,
  credentialChange: `${CAEP_BASE}credential-change`,
  assuranceLevelChange: `${CAEP_BASE}assurance-level-change`,
  deviceComplianceChange: `${CAEP_BASE}device-compliance-change`,
  riskLevelChange: `${CAEP_BASE}risk-level-change`,
} as const;

/** RISC 1.0: the account's recovery information (here: recovery codes) changed. */
export const RISC_RECOVERY_INFORMATION_CHANGED = "https://schemas.openid.net/secevent/risc/event-type/recovery-information-changed";

/** SSF 1.0 §8.1.4: the stream check; sent on request, to any receiver, whatever it subscribed to. */
export const SSF_VERIFICATION = "https://schemas.openid.net/secevent/ssf/event-type/verification";

/** Every event type a receiver may subscribe to (verification is implied). */
export const SUPPORTED_EVENTS: readonly string[] = [...Object.values(CAEP), RISC_RECOVERY_INFORMATION_CHANGED];

// ---- RFC 9493 Subject Identifiers ----

export interface IssSubId {
  format: "iss_sub";
  iss: string;
  sub: string;
}
export interface OpaqueId {
  format: "opaque";
  id: string;
}
export type SimpleSubjectId = IssSubId | OpaqueId;
/** SSF 1.0 §3.2: members of one principal; absent members match anything. */
export interface ComplexSubjectId {
  format: "complex";
  user?: SimpleSubjectId;
  device?: SimpleSubjectId;
  session?: SimpleSubjectId;
}
export type SubjectId = SimpleSubjectId | ComplexSubjectId;

/** CAEP §2 `initiating_entity`. */
export type InitiatingEntity = "admin" | "user" | "policy" | "system";
const INITIATORS: ReadonlySet<string> = new Set(["admin", "user", "policy", "system"]);

/** One security event to send: its type URI, its subject and the event object (SET `events` value). */
export interface SecurityEvent {
  type: string;
  subject: SubjectId;
  event: Record<string, unknown>;
}

// ---- value mappings ----

/**
 * CAEP `credential_type` (CAEP §3.3.1). A passkey is `fido2-platform` unless the event says the
 * authenticator is a roaming one (`authenticatorAttachment: "cross-platform"`, WebAuthn's name);
 * TOTP is an authenticator `app`.
 */
function credentialType(e: Extract<IdentityEvent, { type: "credential.added" | "credential.removed" }>): string {
  if (e.credential === "totp") return "app";
  return extra(e, "authenticatorAttachment") === "cross-platform" ? "fido2-roaming" : "fido2-platform";
}

/**
 * Tenet's acr values as NIST SP 800-63B authenticator assurance levels (CAEP §3.4 `NIST-AAL`):
 * no second factor is AAL1, two factors (including a synced passkey) AAL2, a hardware-bound
 * phishing-resistant passkey AAL3. The acr values themselves travel along (`current_acr`,
 * `previous_acr`; SSF 1.0 §4.2.3 lets receivers ignore members they do not know), since a change
 * between MFA and phishing-resistant stays within AAL2.
 */
const AAL = ["nist-aal1", "nist-aal2", "nist-aal2", "nist-aal3"] as const;

/** Tenet's risk levels (low, medium, high, critical) as CAEP §3.8 levels; critical is HIGH. */
function caepRisk(level: string): "LOW" | "MEDIUM" | "HIGH" | undefined {
  switch (level.toLowerCase()) {
    case "low":
      return "LOW";
    case "medium":
      return "MEDIUM";
    case "high":
    case "critical":
      return "HIGH";
    default:
      return undefined;
  }
}

/** A member the bus event may carry beyond its declared type (publishers may add detail). */
function extra(e: IdentityEvent, key: string): unknown {
  return (e as unknown as Record<string, unknown>)[key];
}

/** `initiator` when the publisher said who acted, else the event type's usual initiator. */
function initiator(e: IdentityEvent, fallback?: InitiatingEntity): InitiatingEntity | undefined {
  const said = extra(e, "initiator");
  return typeof said === "string" && INITIATORS.has(said) ? (said as InitiatingEntity) : fallback;
}

/** CAEP §2 `reason_admin`: a language-tagged message for logs (not shown to the end user). */
function reasonAdmin(text: string | undefined): { reason_admin?: Record<string, string> } {
  if (text === undefined) return {};
  const clean = text.replace(/[\u0000-\u001f\u007f]+/g, " ").trim().slice(0, 500); // eslint-disable-line no-control-regex
  return clean === "" ? {} : { reason_admin: { en: clean } };
}

function common(e: IdentityEvent, nowSeconds: number, fallback?: InitiatingEntity): Record<string, unknown> {
  const who = initiator(e, fallback);
  return { event_timestamp: nowSeconds, ...(who !== undefined ? { initiating_entity: who } : {}) };
}

/**
 * The security events an identity event becomes (none, or one). `issuer` is Tenet's issuer (the
 * `iss` of its tokens, in `iss_sub` subjects); `nowSeconds` the `event_timestamp`: the bus runs
 * listeners right after the change is stored.
 */
export function securityEvents(e: IdentityEvent, issuer: string, nowSeconds: number): SecurityEvent[] {
  const user: IssSubId = { format: "iss_sub", iss: issuer, sub: e.userId };
  switch (e.type) {
    case "user.suspended":
      return [{ type: CAEP.sessionRevoked, subject: { format: "complex", user }, event: { ...common(e, nowSeconds, "admin"), ...reasonAdmin(e.reason ?? "account suspended") } }];
    case "user.deleted":
      return [{ type: CAEP.sessionRevoked, subject: { format: "complex", user }, event: { ...common(e, nowSeconds, "admin"), ...reasonAdmin("account deleted") } }];
    case "session.revoked":
      return [
        {
          type: CAEP.sessionRevoked,
          subject: { format: "complex", user, session: { format: "opaque", id: e.sessionId } },
          event: { ...common(e, nowSeconds), ...reasonAdmin(e.reason) },
        },
      ];
    case "credential.added":
    case "credential.removed": {
      const change_type = e.type === "credential.added" ? "create" : "delete";
      if (e.credential === "recovery_codes") {
        return [{ type: RISC_RECOVERY_INFORMATION_CHANGED, subject: user, event: { ...common(e, nowSeconds), ...reasonAdmin(`recovery codes ${change_type === "create" ? "generated" : "removed"}`) } }];
      }
      const event: Record<string, unknown> = { ...common(e, nowSeconds), credential_type: credentialType(e), change_type };
      const aaguid = extra(e, "aaguid");
      if (typeof aaguid === "string" && /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(aaguid)) event.fido2_aaguid = aaguid.toLowerCase();
      return [{ type: CAEP.credentialChange, subject: user, event }];
    }
    case "device.compliance_changed": {
      const current = e.compliant ? "compliant" : "not-compliant";
      // The event reports a change, so the status before it was the other one.
      const previous = e.compliant ? "not-compliant" : "compliant";
      return [
        {
          type: CAEP.deviceComplianceChange,
          subject: { format: "complex", user, device: { format: "iss_sub", iss: issuer, sub: e.deviceId } },
          event: { ...common(e, nowSeconds, "policy"), current_status: current, previous_status: previous, ...reasonAdmin(e.reasons.length > 0 ? e.reasons.join("; ") : undefined) },
        },
      ];
    }
    case "session.assurance_changed": {
      const now = acrLevel(e.current);
      const before = acrLevel(e.previous);
      if (now < 0) return [];
      const event: Record<string, unknown> = { ...common(e, nowSeconds), namespace: "NIST-AAL", current_level: AAL[now], current_acr: e.current };
      if (before >= 0) {
        event.previous_level = AAL[before];
        event.previous_acr = e.previous;
        if (before !== now) event.change_direction = now > before ? "increase" : "decrease";
      }
      return [{ type: CAEP.assuranceLevelChange, subject: { format: "complex", user, session: { format: "opaque", id: e.sessionId } }, event }];
    }
    case "risk.changed": {
      const current = caepRisk(e.current);
      const previous = caepRisk(e.previous);
      if (current === undefined || current === previous) return [];
      const event: Record<string, unknown> = { ...common(e, nowSeconds, "system"), principal: "USER", current_level: current };
      if (previous !== undefined) event.previous_level = previous;
      const why = extra(e, "reason");
      if (typeof why === "string" && why !== "") event.risk_reason = why.slice(0, 200);
      return [{ type: CAEP.riskLevelChange, subject: user, event }];
    }
    case "user.reactivated":
    case "device.removed":
      return [];
  }
}
