/**
 * Milliseconds since the epoch as RFC 3339 (`Date#toISOString`), remembering the last one:
 * decisions made in the same millisecond share the string instead of formatting it again.
 */
let lastMs = Number.NaN;
let lastText = "";

export function isoTime(ms: number): string {
  if (ms !== lastMs) {
    lastText = new Date(ms).toISOString();
    lastMs = ms;
  }
  return lastText;
}
