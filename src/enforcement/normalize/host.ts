import { isIPv6 } from "node:net";
import { reject } from "./types.js";

const DEFAULT_PORT = { http: "80", https: "443" } as const;
const LABEL = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;
const DEC_OCTET = /^(?:25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])$/;

/**
 * Normalises a Host header value or an absolute-form authority (RFC 9110 §7.2, RFC 3986 §3.2):
 * lower-case (§6.2.2.1: the host is case-insensitive), one trailing dot removed (the root label),
 * the scheme's default port removed (§6.2.3), an empty port removed.
 * Refused (400 bad_host): userinfo ("user@host", RFC 9110 §4.2.4 forbids it and it is a phishing/
 * confusion trick), anything that is not RFC 1123 labels, a strict dotted-quad IPv4 or a bracketed IPv6
 * literal. Numeric-looking hosts that are not strict dotted quads ("0177.0.0.1", "2130706433",
 * "0x7f.1") are refused because URL parsers disagree on them (WHATWG reads them as IPv4).
 */
export function normaliseHost(value: string, scheme: "http" | "https" | undefined): string {
  if (value.length === 0) reject(400, "missing_host", "empty host");
  if (value.length > 261) reject(400, "bad_host", "host too long");
  if (value.includes("@")) reject(400, "bad_host", "userinfo is not allowed in the host");
  let host: string;
  let port: string | undefined;
  if (value.startsWith("[")) {
    const end = value.indexOf("]");
    if (end < 0) reject(400, "bad_host", "unterminated IPv6 literal");
    const literal = value.slice(1, end);
    // Zone identifiers (RFC 6874) are meaningless to a remote server; refuse rather than interpret.
    if (!isIPv6(literal) || literal.includes("%")) reject(400, "bad_host", "invalid IPv6 literal");
    // Let the WHATWG serialiser pick the canonical (compressed, lower-case) form.
    host = new URL(`http://[${literal}]/`).hostname;
    const rest = value.slice(end + 1);
    if (rest !== "") {
      if (!rest.startsWith(":")) reject(400, "bad_host", "garbage after IPv6 literal");
      port = rest.slice(1);
    }
  } else {
    const colon = value.indexOf(":");
    host = colon < 0 ? value : value.slice(0, colon);
    port = colon < 0 ? undefined : value.slice(colon + 1);
    host = host.toLowerCase();
    if (host.endsWith(".")) host = host.slice(0, -1);
    if (!validName(host)) reject(400, "bad_host", "invalid host name");
  }
  if (port !== undefined && port !== "") {
    if (!/^[0-9]{1,5}$/.test(port) || Number(port) < 1 || Number(port) > 65535) reject(400, "bad_host", "invalid port");
    port = String(Number(port)); // "0080" → "80"
    if (scheme === undefined || DEFAULT_PORT[scheme] !== port) return `${host}:${port}`;
  }
  return host;
}

function validName(host: string): boolean {
  if (host.length === 0 || host.length > 253) return false;
  const labels = host.split(".");
  const last = labels[labels.length - 1] as string;
  // If it looks numeric, it must be exactly a dotted-decimal IPv4 address.
  if (/^(?:[0-9]+|0x[0-9a-f]*)$/.test(last)) {
    return labels.length === 4 && labels.every((l) => DEC_OCTET.test(l));
  }
  return labels.every((l) => LABEL.test(l));
}
