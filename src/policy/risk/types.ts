/**
 * The risk engine's inputs and its plug-in contract. The outputs (RiskAssessment, RiskReason,
 * RiskLevel) are the access-decision types shared with the decision point.
 *
 * Everything here is a plain JSON shape: a RiskInput can be built from an HTTP request, a
 * history document or a test literal alike. The engine is pure given the input (it never reads
 * the clock: `now` is part of the input), so the same input always gives the same assessment.
 */
import type { DeviceSignals, RequestSignals, ResourceSignals, SubjectSignals } from "../access/types.js";
import type { IpAddr } from "./ip.js";
import type { RiskConfig } from "./config.js";

/** A point on Earth, in degrees (WGS 84, as geolocation databases give them). */
export interface GeoPoint {
  latitude: number;
  longitude: number;
}

/** Where an IP address is, as far as a geolocation source knows. */
export interface GeoLocation extends GeoPoint {
  city?: string;
  /** ISO 3166-1 alpha-2. */
  country?: string;
  /** How far off the point may be (km), when the source says. */
  accuracyRadiusKm?: number;
}

/** One successful sign-in. */
export interface SignInRecord {
  /** ms since the epoch. */
  time: number;
  ip?: string;
  /** Resolved when recorded, if known; otherwise the engine looks the IP up. */
  location?: GeoLocation;
  deviceId?: string;
}

export interface CredentialStatus {
  /** A breach indicator (e.g. the password appeared in a leak, or an admin flagged it). */
  flagged: boolean;
  reason?: string;
  /** ms since the epoch. */
  flaggedAt?: number;
}

/**
 * What is known about a subject's past. Every field is optional so a caller can pass what it
 * has; an absent field means "unknown" (treated as the riskier case where that matters), while
 * an empty one means "known to be empty" (a new subject).
 */
export interface SubjectHistory {
  /** Recent successful sign-ins, oldest first (bounded by the history store). */
  signIns?: SignInRecord[];
  /** Times (ms) of recent failed sign-ins, oldest first. */
  failedSignIns?: number[];
  /** Device ids this subject has signed in from. */
  knownDeviceIds?: string[];
  /**
   * 24 counts of successful sign-ins by hour of day, in UTC shifted by the configured
   * `timezoneOffsetMinutes` (the history store and the engine must use the same offset).
   */
  hourHistogram?: number[];
  credential?: CredentialStatus;
}

/** Everything one risk assessment is about. */
export interface RiskInput {
  subject: SubjectSignals;
  device?: DeviceSignals;
  request?: RequestSignals;
  resource?: ResourceSignals;
  /**
   * The evaluation time, ms since the epoch. The engine never reads the clock, and does not
   * trust `request.time` (a client could set it to a usual hour).
   */
  now: number;
  history?: SubjectHistory;
}

/** A signal's verdict before its weight: a score 0..100 and a sentence a person can act on. */
export interface SignalResult {
  score: number;
  reason: string;
}

/** Worked out once per assessment and shared by the signals, so each does not redo it. */
export interface SignalContext {
  readonly config: RiskConfig;
  /** `request.ip`, parsed (IPv4-mapped IPv6 as IPv4); undefined when absent or malformed. */
  readonly clientIp: IpAddr | undefined;
}

/**
 * A risk signal: a plug-in that looks at the input and returns a contribution, or null for
 * "nothing to say". It must be synchronous, fast and deterministic (no clock, no randomness,
 * no I/O): it runs on every access decision.
 */
export interface RiskSignal {
  readonly name: string;
  evaluate(input: RiskInput, ctx: SignalContext): SignalResult | null;
  /** What went wrong while loading this signal's data (feeds, databases), for start-up logs. */
  readonly problems?: readonly LoadProblem[];
}

/** A problem found while loading a list, feed or database file. */
export interface LoadProblem {
  file: string;
  /** 1-based; absent when the problem is the whole file (missing, unreadable, empty). */
  line?: number;
  problem: string;
}
