/**
 * Wording helpers for reasons. Reasons end up in logs and consoles, so text that came from a
 * request is quoted and cut short, and numbers are formatted without the locale (the same input
 * must give the same sentence on every machine).
 */

/** Request-supplied text as a short JSON string literal. */
export function quote(text: string, max = 64): string {
  return JSON.stringify(text.length > max ? `${text.slice(0, max)}…` : text);
}

/** `UTC`, `UTC+05:30`, `UTC-03:00`. */
export function utcOffsetLabel(minutes: number): string {
  if (minutes === 0) return "UTC";
  const abs = Math.abs(minutes);
  const hh = String(Math.floor(abs / 60)).padStart(2, "0");
  const mm = String(abs % 60).padStart(2, "0");
  return `UTC${minutes < 0 ? "-" : "+"}${hh}:${mm}`;
}

/** `less than a minute`, `45 minutes`, `3.5 hours`. */
export function durationLabel(ms: number): string {
  const minutes = ms / 60_000;
  if (minutes < 1) return "less than a minute";
  if (minutes < 120) return `${Math.round(minutes)} minute${Math.round(minutes) === 1 ? "" : "s"}`;
  return `${(minutes / 60).toFixed(1)} hours`;
}
