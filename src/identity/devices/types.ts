/** Devices as stored and as returned: a device-bound public key, its owner and its last posture. */
import type { Posture } from "./posture.js";

/** The signature algorithms a device key may use (RFC 7518 §3.4 ES256; RFC 8037 EdDSA). */
export type DeviceAlg = "ES256" | "EdDSA";

/** A device's public key as a JWK (RFC 7517), reduced to its required members. */
export type DevicePublicJwk = { kty: "EC"; crv: "P-256"; x: string; y: string } | { kty: "OKP"; crv: "Ed25519"; x: string };

/** What the posture policy concluded, and why not when it is not compliant. */
export interface ComplianceResult {
  compliant: boolean;
  /** Empty when compliant; one human-readable line per failed requirement otherwise. */
  reasons: string[];
}

export interface Device {
  /** A ULID, chosen by the server at enrolment. */
  id: string;
  /** The directory user the device belongs to. */
  userId: string;
  name: string;
  /** What the agent says it runs on (`linux`, `darwin`, `win32`, ...); informational. */
  platform?: string | undefined;
  publicKey: DevicePublicJwk;
  alg: DeviceAlg;
  /** RFC 7638 JWK thumbprint (SHA-256) of the public key: one key, one device. */
  keyThumbprint: string;
  enrolledAt: string;
  /** Who authorised the enrolment: `user:<id>` or the admin credential (`api_key:<id>`). */
  enrolledBy: string;
  /** The last accepted posture, once there is one. */
  posture?: Posture | undefined;
  /** When the server accepted the last report. */
  lastReportAt?: string | undefined;
  /**
   * The verdict stored at the last report or sweep (what `device.compliance_changed` events
   * announced). Readers that need the verdict *now* evaluate again: posture goes stale on its own.
   */
  compliance: ComplianceResult & { evaluatedAt: string };
  updatedAt: string;
  version: number;
}

/** What the decision point asks about a device. */
export interface DeviceCompliance {
  deviceId: string;
  userId: string;
  compliant: boolean;
  reasons: string[];
  lastReportAt: string | undefined;
}

export interface NewDevice {
  userId: string;
  name: string;
  /** The device's public JWK (validated: EC P-256 or OKP Ed25519, no private part). */
  publicKey: unknown;
  platform?: string | undefined;
  /** Who authorised it (default `user:<userId>`). */
  enrolledBy?: string | undefined;
}
