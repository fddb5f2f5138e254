/**
 * The inputs and outputs of an access decision: who asks (subject), from what (device), how
 * (request), for what (resource, action) and at what risk. Shared by the access-policy
 * evaluator, the risk engine, just-in-time access and the enforcement points. Plain JSON shapes,
 * so that a decision request can arrive over HTTP (AuthZEN, native) or in-process alike.
 *
 * Every signal is optional: a rule that needs a signal the request does not carry is treated as
 * the riskier case (an allow rule does not match, a deny rule does), never as an allow.
 */
import { ACR } from "../../identity/acr.js";

export type Classification = "public" | "internal" | "confidential" | "restricted";
export const CLASSIFICATIONS: readonly Classification[] = ["public", "internal", "confidential", "restricted"];

/** Authentication assurance, weakest first. `none` = a session without a second factor. */
export type AssuranceLevel = "none" | "mfa" | "phishing_resistant" | "hardware";
export const ASSURANCE_LEVELS: readonly AssuranceLevel[] = ["none", "mfa", "phishing_resistant", "hardware"];

/**
 * The `acr` values Tenet issues and accepts, one per level: the identity provider's (the OpenID
 * PAPE URIs, src/identity/acr.ts), so a `challenge` is exactly what to pass as `acr_values`.
 * Short names and the earlier `urn:tenet:acr:*` names are accepted too (ACR_ALIASES).
 */
export const ACR_URIS: Record<Exclude<AssuranceLevel, "none">, string> = {
  mfa: ACR.mfa,
  phishing_resistant: ACR.phishingResistant,
  hardware: ACR.hardware,
};

/** Other names of the levels, accepted in requests. */
export const ACR_ALIASES: Record<string, Exclude<AssuranceLevel, "none">> = {
  "urn:tenet:acr:mfa": "mfa",
  "urn:tenet:acr:phishing-resistant": "phishing_resistant",
  "urn:tenet:acr:hardware": "hardware",
};

export interface SubjectSignals {
  /** `type:id`, e.g. `user:anne` (the relationship engine's user string). */
  id: string;
  claims?: Record<string, unknown>;
  groups?: string[];
  roles?: string[];
  /** An `acr` URI (ACR_URIS) or a level's short name. */
  acr?: string;
  /** RFC 8176 authentication method references, e.g. ["hwk", "user"] or ["pwd", "otp"]. */
  amr?: string[];
  /** When the subject last authenticated: seconds since the epoch (as in OIDC). */
  auth_time?: number;
}

export interface DeviceSignals {
  id?: string;
  /** Known to Tenet (enrolled with a device-bound key). */
  registered?: boolean;
  managed?: boolean;
  compliant?: boolean;
  os?: { name?: string; version?: string };
  /** e.g. "2026-11" (the month of the last security patch). */
  patch_level?: string;
  disk_encryption?: boolean;
  screen_lock?: boolean;
  firewall?: boolean;
  /** Seconds since the device last reported its posture. */
  posture_age?: number;
}

export interface RequestSignals {
  ip?: string;
  /** ISO 3166-1 alpha-2, when known (from a geo database or the edge). */
  country?: string;
  /** RFC 3339; defaults to the evaluation time. */
  time?: string;
  user_agent?: string;
  method?: string;
  host?: string;
  path?: string;
}

export interface ResourceSignals {
  type: string;
  id: string;
  classification?: Classification;
  /** `type:id` of the owner. */
  owner?: string;
  attributes?: Record<string, unknown>;
}

export type RiskLevel = "low" | "medium" | "high" | "critical";
export const RISK_LEVELS: readonly RiskLevel[] = ["low", "medium", "high", "critical"];

export interface RiskReason {
  /** The signal's name, e.g. `ip_reputation`, `impossible_travel`. */
  signal: string;
  /** This signal's contribution to the score (after its weight). */
  score: number;
  /** A sentence a person can act on. */
  reason: string;
}

export interface RiskAssessment {
  /** 0–100. */
  score: number;
  level: RiskLevel;
  reasons: RiskReason[];
}

/** Everything one access decision is about. */
export interface AccessRequest {
  subject: SubjectSignals;
  device?: DeviceSignals;
  request?: RequestSignals;
  resource: ResourceSignals;
  /** The action, also the relation `check()` asks about by default (e.g. `viewer`, `write`). */
  action: string;
  /** A risk assessment made elsewhere; when absent the decision point computes one. */
  risk?: RiskAssessment;
  /** Extra context passed to relationship conditions. */
  context?: Record<string, unknown>;
}
