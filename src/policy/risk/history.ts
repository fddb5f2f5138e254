/**
 * Subject history: what the risk signals need to know about a subject's past sign-ins, kept
 * bounded (the last N sign-ins and known devices, failed attempts inside the window, a decaying
 * hour-of-day histogram) so that a subject under attack cannot grow it without limit.
 *
 * The update rules are pure functions here, shared by the stores (history-memory.ts,
 * history-documents.ts). Times are always given by the caller: nothing here reads the clock.
 */
import type { RiskConfig } from "./config.js";
import { hourOfDay } from "./signals/unusual-hour.js";
import type { CredentialStatus, GeoLocation, SignInRecord, SubjectHistory } from "./types.js";

export interface SignInEvent {
  subjectId: string;
  /** ms since the epoch. */
  time: number;
  success: boolean;
  ip?: string;
  deviceId?: string;
  /** Where `ip` is, if the caller resolved it (saves a lookup on every later assessment). */
  location?: GeoLocation;
}

export interface HistoryStore {
  /** The subject's history; an empty one (not an error) for a subject never seen. */
  get(subjectId: string): Promise<SubjectHistory>;
  recordSignIn(e: SignInEvent): Promise<void>;
  /** Marks the subject's credential as compromised until cleared. */
  flagCredential(subjectId: string, flag: { time: number; reason?: string }): Promise<void>;
  clearCredentialFlag(subjectId: string): Promise<void>;
}

/** A history as the stores keep it: every list present. */
export interface StoredHistory {
  signIns: SignInRecord[];
  failedSignIns: number[];
  knownDeviceIds: string[];
  hourHistogram: number[];
  credential?: CredentialStatus;
}

export interface HistoryLimits {
  maxSignIns: number;
  maxKnownDevices: number;
  maxFailedSignIns: number;
  histogramDecayAt: number;
  failedWindowMs: number;
  timezoneOffsetMinutes: number;
}

export function historyLimits(config: RiskConfig): HistoryLimits {
  return {
    maxSignIns: config.history.maxSignIns,
    maxKnownDevices: config.history.maxKnownDevices,
    maxFailedSignIns: config.history.maxFailedSignIns,
    histogramDecayAt: config.history.histogramDecayAt,
    failedWindowMs: config.failedSignIns.windowMinutes * 60_000,
    timezoneOffsetMinutes: config.timezoneOffsetMinutes,
  };
}

export function emptyHistory(): StoredHistory {
  return { signIns: [], failedSignIns: [], knownDeviceIds: [], hourHistogram: new Array<number>(24).fill(0) };
}

/** Throws TypeError for a malformed event (caller mistakes are caught before any write). */
export function checkSignInEvent(e: SignInEvent): void {
  if (e === null || typeof e !== "object") throw new TypeError("the sign-in event must be an object");
  if (typeof e.subjectId !== "string" || e.subjectId === "") throw new TypeError("subjectId must be a non-empty string");
  if (typeof e.time !== "number" || !Number.isFinite(e.time)) throw new TypeError("time must be ms since the epoch");
  if (typeof e.success !== "boolean") throw new TypeError("success must be a boolean");
  if (e.ip !== undefined && typeof e.ip !== "string") throw new TypeError("ip must be a string");
  if (e.deviceId !== undefined && typeof e.deviceId !== "string") throw new TypeError("deviceId must be a string");
}

/** The history after one sign-in attempt; `h` is not changed. */
export function applySignIn(h: StoredHistory, e: SignInEvent, limits: HistoryLimits): StoredHistory {
  const next: StoredHistory = {
    signIns: h.signIns,
    failedSignIns: h.failedSignIns,
    knownDeviceIds: h.knownDeviceIds,
    hourHistogram: h.hourHistogram,
  };
  if (h.credential !== undefined) next.credential = h.credential;
  if (!e.success) {
    const failed = insertSorted(h.failedSignIns, e.time, (t) => t);
    // Only attempts inside the window ever count; keep no more than that, and no more than the cap.
    const newest = failed[failed.length - 1] as number;
    const fresh = failed.filter((t) => t > newest - limits.failedWindowMs);
    next.failedSignIns = fresh.slice(-limits.maxFailedSignIns);
    return next;
  }
  const record: SignInRecord = { time: e.time };
  if (e.ip !== undefined) record.ip = e.ip;
  if (e.deviceId !== undefined) record.deviceId = e.deviceId;
  if (e.location !== undefined) record.location = e.location;
  // Replicas may record out of order; keep the list sorted so "previous sign-in" is well defined.
  next.signIns = insertSorted(h.signIns, record, (r) => r.time).slice(-limits.maxSignIns);
  if (e.deviceId !== undefined && e.deviceId !== "") {
    // Most recently used last, so the oldest device is the one dropped.
    next.knownDeviceIds = [...h.knownDeviceIds.filter((d) => d !== e.deviceId), e.deviceId].slice(-limits.maxKnownDevices);
  }
  const hist = [...h.hourHistogram];
  const hour = hourOfDay(e.time, limits.timezoneOffsetMinutes);
  hist[hour] = (hist[hour] as number) + 1;
  // Halving keeps the shape and lets old habits fade (a move to another timezone, a new shift).
  if (hist.reduce((a, b) => a + b, 0) >= limits.histogramDecayAt) for (let i = 0; i < 24; i++) hist[i] = Math.floor((hist[i] as number) / 2);
  next.hourHistogram = hist;
  return next;
}

function insertSorted<T>(list: readonly T[], item: T, key: (x: T) => number): T[] {
  const out = [...list];
  let i = out.length;
  while (i > 0 && key(out[i - 1] as T) > key(item)) i--;
  out.splice(i, 0, item);
  return out;
}

/**
 * A stored body made safe to use: whatever another version wrote (or a hand edit broke), the
 * result has the expected shape. Unusable parts are dropped, which only ever makes the signals
 * see less history (more caution), never a made-up one.
 */
export function normalizeHistory(raw: unknown): StoredHistory {
  const h = emptyHistory();
  if (raw === null || typeof raw !== "object") return h;
  const r = raw as Record<string, unknown>;
  if (Array.isArray(r.signIns)) {
    for (const s of r.signIns as unknown[]) {
      if (s === null || typeof s !== "object") continue;
      const o = s as Record<string, unknown>;
      if (typeof o.time !== "number" || !Number.isFinite(o.time)) continue;
      const rec: SignInRecord = { time: o.time };
      if (typeof o.ip === "string") rec.ip = o.ip;
      if (typeof o.deviceId === "string") rec.deviceId = o.deviceId;
      const loc = o.location as Record<string, unknown> | null | undefined;
      if (loc && typeof loc.latitude === "number" && typeof loc.longitude === "number") {
        const l: GeoLocation = { latitude: loc.latitude, longitude: loc.longitude };
        if (typeof loc.city === "string") l.city = loc.city;
        if (typeof loc.country === "string") l.country = loc.country;
        if (typeof loc.accuracyRadiusKm === "number") l.accuracyRadiusKm = loc.accuracyRadiusKm;
        rec.location = l;
      }
      h.signIns.push(rec);
    }
    h.signIns.sort((a, b) => a.time - b.time);
  }
  if (Array.isArray(r.failedSignIns)) h.failedSignIns = (r.failedSignIns as unknown[]).filter((t): t is number => typeof t === "number" && Number.isFinite(t)).sort((a, b) => a - b);
  if (Array.isArray(r.knownDeviceIds)) h.knownDeviceIds = (r.knownDeviceIds as unknown[]).filter((d): d is string => typeof d === "string");
  if (Array.isArray(r.hourHistogram) && r.hourHistogram.length === 24 && (r.hourHistogram as unknown[]).every((n) => typeof n === "number" && n >= 0 && Number.isFinite(n))) {
    h.hourHistogram = [...(r.hourHistogram as number[])];
  }
  const c = r.credential as Record<string, unknown> | null | undefined;
  if (c && typeof c === "object" && c.flagged === true) {
    const cred: CredentialStatus = { flagged: true };
    if (typeof c.reason === "string") cred.reason = c.reason;
    if (typeof c.flaggedAt === "number") cred.flaggedAt = c.flaggedAt;
    h.credential = cred;
  }
  return h;
}

/** A deep copy for callers (so nobody edits a store's state through a returned object). */
export function copyHistory(h: StoredHistory): StoredHistory {
  return structuredClone(h);
}
