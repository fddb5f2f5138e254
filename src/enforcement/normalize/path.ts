import { reject } from "./types.js";

/**
 * Path normalisation of an origin-form path (RFC 9112 §3.2.1, RFC 3986 §3.3). The goal is that the
 * decision point and the upstream see the *same* path: anything two parsers could read differently is
 * refused rather than guessed.
 *
 * - Percent-encoded unreserved characters are decoded (RFC 3986 §6.2.2.2); other percent-encodings are
 *   kept with upper-case hex (§6.2.2.1). Encoded bytes ≥ 0x80 must form valid UTF-8 (refuses overlong
 *   forms such as %C0%AF, an old way to smuggle "/").
 * - Refused (400 bad_path): encoded "/" or "\" (the upstream may decode and split on them), encoded
 *   dot segments, NUL and every other control character (raw or encoded), raw backslashes (some servers
 *   treat them as "/"), double encoding ("%25" followed by two hex digits, checked after decoding so
 *   "%25%32%65" is caught too), malformed "%", dot segments with path parameters ("..;" or "..%3B" — Tomcat reads
 *   it as ".."), non-ASCII and whitespace, and paths climbing above the root.
 * - remove_dot_segments (RFC 3986 §5.2.4) and repeated slashes collapsed ("//a///b" → "/a/b").
 * - Printable characters outside pchar that browsers send raw (" < > ^ ` { | }) are percent-encoded so
 *   the output has one canonical form.
 * The result is idempotent: normalisePath(normalisePath(p)) === normalisePath(p).
 */
export function normalisePath(rawPath: string): string {
  if (!rawPath.startsWith("/")) reject(400, "bad_path", "path must start with '/'");
  const segments = rawPath.split("/");
  const out: string[] = [];
  // segments[0] is the empty string before the leading "/".
  for (let i = 1; i < segments.length; i++) {
    const isLast = i === segments.length - 1;
    const { text, encodedDot } = canonicalSegment(segments[i] as string);
    if (text === "." || text === "..") {
      if (encodedDot) reject(400, "bad_path", "encoded dot segment");
      if (text === "..") {
        if (out.length === 0) reject(400, "bad_path", "path climbs above the root");
        out.pop();
      }
      // RFC 3986 §5.2.4: "/a/b/.." → "/a/" — a final dot segment leaves a trailing slash.
      if (isLast) out.push("");
      continue;
    }
    // ";" may arrive encoded ("..%3B"): an upstream that decodes before stripping parameters sees "..;".
    const params = text.replace(/%3B/g, ";");
    const beforeParams = params.split(";", 1)[0];
    if (params.includes(";") && (beforeParams === "." || beforeParams === "..")) {
      reject(400, "bad_path", "dot segment with path parameters");
    }
    if (text === "") {
      // Collapse repeated slashes; keep a single trailing slash (it is significant to many apps).
      if (isLast) out.push("");
      continue;
    }
    out.push(text);
  }
  // A path of only "/" (or "//", "/./") yields [""] or []; both mean the root.
  if (out.length === 0) return "/";
  const path = "/" + out.join("/");
  return path === "//" ? "/" : path;
}

const HEX = "0123456789ABCDEF";
const UNRESERVED = /^[A-Za-z0-9\-._~]$/;
/** pchar minus pct-encoded (RFC 3986 §3.3): kept as they are. */
const PCHAR_RAW = /^[A-Za-z0-9\-._~!$&'()*+,;=:@]$/;
/** Printable ASCII outside pchar that is percent-encoded rather than refused. */
const ENCODE_RAW = new Set(['"', "<", ">", "^", "`", "{", "|", "}", "[", "]"]);
const utf8 = new TextDecoder("utf-8", { fatal: true });

function hexValue(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  if (c >= 0x41 && c <= 0x46) return c - 0x37;
  if (c >= 0x61 && c <= 0x66) return c - 0x57;
  return -1;
}

function pct(byte: number): string {
  return "%" + HEX[byte >> 4] + HEX[byte & 15];
}

function canonicalSegment(seg: string): { text: string; encodedDot: boolean } {
  let text = "";
  let encodedDot = false;
  let high: number[] = []; // a run of encoded bytes ≥ 0x80, validated as UTF-8 when it ends
  const flushHigh = (): void => {
    if (high.length === 0) return;
    try {
      utf8.decode(new Uint8Array(high));
    } catch {
      reject(400, "bad_path", "percent-encoded bytes are not valid UTF-8");
    }
    for (const b of high) text += pct(b);
    high = [];
  };
  for (let i = 0; i < seg.length; i++) {
    const ch = seg[i] as string;
    const code = seg.charCodeAt(i);
    if (ch === "%") {
      const h = hexValue(seg.charCodeAt(i + 1));
      const l = hexValue(seg.charCodeAt(i + 2));
      if (h < 0 || l < 0) reject(400, "bad_path", "malformed percent-encoding");
      const byte = h * 16 + l;
      i += 2;
      if (byte >= 0x80) {
        high.push(byte);
        continue;
      }
      flushHigh();
      if (byte < 0x20 || byte === 0x7f) reject(400, "bad_path", "encoded control character");
      if (byte === 0x2f) reject(400, "bad_path", "encoded slash");
      if (byte === 0x5c) reject(400, "bad_path", "encoded backslash");
      const decoded = String.fromCharCode(byte);
      if (UNRESERVED.test(decoded)) {
        if (decoded === ".") encodedDot = true;
        text += decoded;
      } else {
        text += pct(byte);
      }
      continue;
    }
    flushHigh();
    if (code < 0x20 || code === 0x7f) reject(400, "bad_path", "control character in path");
    if (ch === "\\") reject(400, "bad_path", "backslash in path");
    if (PCHAR_RAW.test(ch)) text += ch;
    else if (ENCODE_RAW.has(ch)) text += pct(code);
    else reject(400, "bad_path", "invalid character in path");
  }
  flushHigh();
  // Double encoding: after one decoding pass the segment must not still contain "%XX" spelled as "%25XX".
  if (/%25[0-9A-Fa-f]{2}/.test(text)) reject(400, "bad_path", "double percent-encoding");
  return { text, encodedDot };
}

/** The query is passed through unchanged (its meaning belongs to the app), but must be clean ASCII. */
export function checkQuery(query: string): string {
  for (let i = 0; i < query.length; i++) {
    const c = query.charCodeAt(i);
    if (c <= 0x20 || c >= 0x7f) reject(400, "bad_query", "control, space or non-ASCII character in query");
    if (c === 0x23) reject(400, "bad_query", "fragment in request-target");
  }
  return query;
}
