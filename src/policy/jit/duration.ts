/**
 * Durations as people write them: `90s`, `30m`, `2h`, `1d`, `1h30m`, or ISO 8601 (`PT1H`,
 * `PT1H30M`, `P1D`; days, hours, minutes and seconds only: months and years have no fixed length).
 */
import { TenetError } from "../../errors.js";

const SECOND = 1000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

const COMPACT = /^(?:(\d{1,6})d)?(?:(\d{1,6})h)?(?:(\d{1,6})m)?(?:(\d{1,9})s)?$/;
const ISO = /^P(?:(\d{1,6})D)?(?:T(?:(\d{1,6})H)?(?:(\d{1,6})M)?(?:(\d{1,9})S)?)?$/;

/** Milliseconds; throws `validation_error` naming `where` for anything else (or zero). */
export function parseDuration(input: string, where = "duration"): number {
  if (typeof input !== "string" || input.length === 0 || input.length > 32) {
    throw new TenetError("validation_error", `${where} must be a duration such as '30m', '2h' or 'PT1H'`);
  }
  const m = COMPACT.exec(input) ?? ISO.exec(input);
  // The ISO form needs at least one component after P (and after T, when T is present).
  if (!m || input === "P" || input.endsWith("T") || m.slice(1).every((g) => g === undefined)) {
    throw new TenetError("validation_error", `invalid ${where} '${input}': use a duration such as '30m', '2h', '1h30m' or ISO 8601 'PT1H'`);
  }
  const [d, h, min, s] = m.slice(1).map((g) => (g === undefined ? 0 : Number(g))) as [number, number, number, number];
  const ms = d * DAY + h * HOUR + min * MINUTE + s * SECOND;
  if (ms <= 0) throw new TenetError("validation_error", `${where} must be longer than zero`);
  return ms;
}

/** A duration from configuration: milliseconds, or a string parseDuration accepts. */
export function durationOption(value: number | string | undefined, fallbackMs: number, key: string): number {
  if (value === undefined) return fallbackMs;
  if (typeof value === "number") {
    if (!Number.isFinite(value) || value <= 0) throw new TenetError("validation_error", `${key} must be a positive number of milliseconds or a duration such as '8h'`);
    return value;
  }
  return parseDuration(value, key);
}

/** `1h30m`, `45s`: for messages. */
export function formatDuration(ms: number): string {
  const parts: string[] = [];
  let rest = Math.round(ms / SECOND);
  for (const [unit, size] of [["d", 86400], ["h", 3600], ["m", 60], ["s", 1]] as const) {
    const n = Math.floor(rest / size);
    if (n > 0) parts.push(`${n}${unit}`);
    rest -= n * size;
  }
  return parts.length > 0 ? parts.join("") : "0s";
}
