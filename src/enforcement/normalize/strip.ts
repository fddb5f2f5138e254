import { TOKEN } from "./method.js";
import type { Field } from "./fields.js";
import { reject } from "./types.js";

/** Hop-by-hop fields (RFC 9110 §7.6.1) plus their legacy/proxy siblings: never forwarded. */
const HOP_BY_HOP = new Set([
  "connection",
  "keep-alive",
  "proxy-connection",
  "te",
  "trailer",
  "transfer-encoding",
  "upgrade",
  "proxy-authorization",
  "proxy-authenticate",
]);

/**
 * Naming these in Connection would make a compliant hop remove them (RFC 9110 §7.6.1): a known trick
 * to strip the Host, the credentials or the framing between the proxy's view and the upstream's.
 */
const PROTECTED_FROM_CONNECTION = new Set(["host", "authorization", "cookie", "content-length", "transfer-encoding"]);

/** Headers by which a client claims where the request came from; only a trusted hop may set them. */
const FORWARDING_EXACT = new Set(["forwarded", "x-real-ip", "x-client-ip", "true-client-ip", "x-cluster-client-ip"]);
const FORWARDING_PREFIX = "x-forwarded-";

/**
 * Headers some frameworks use to override the method or path after the proxy decided (IIS/Symfony
 * X-Original-URL, X-Rewrite-URL; Express/Rails method-override): the decision would be about one
 * request and the app would serve another. Always stripped.
 */
const OVERRIDES = new Set(["x-original-url", "x-rewrite-url", "x-original-uri", "x-http-method-override", "x-http-method", "x-method-override"]);

export interface StripResult {
  headers: Record<string, string | string[]>;
  stripped: string[];
  upgrade?: "websocket";
}

export function stripHeaders(
  fields: Field[],
  method: string,
  httpVersion: string,
  identityPrefixes: readonly string[],
  trustForwarded: boolean,
): StripResult {
  const connectionTokens = new Set<string>();
  for (const f of fields) {
    if (f.name !== "connection" && f.name !== "proxy-connection") continue;
    for (const raw of f.value.split(",")) {
      const t = raw.replace(/^[ \t]+|[ \t]+$/g, "").toLowerCase();
      if (t === "") continue; // RFC 9110 §5.6.1: empty list elements are ignored
      if (!TOKEN.test(t)) reject(400, "bad_connection", "malformed Connection header");
      if (PROTECTED_FROM_CONNECTION.has(t)) reject(400, "bad_connection", `Connection must not name ${t}`);
      connectionTokens.add(t);
    }
  }

  // WebSocket opening handshake (RFC 6455 §4.1; RFC 9110 §7.8): GET, HTTP/1.1, Connection: upgrade,
  // Upgrade: websocket. The Upgrade header itself is hop-by-hop; the caller re-creates it upstream.
  let upgrade: "websocket" | undefined;
  const upgradeFields = fields.filter((f) => f.name === "upgrade");
  if (connectionTokens.has("upgrade") && upgradeFields.length === 1 && method === "GET" && httpVersion === "1.1") {
    if ((upgradeFields[0] as Field).value.toLowerCase() === "websocket") upgrade = "websocket";
  }

  const prefixes = identityPrefixes.map((p) => p.toLowerCase().replace(/_/g, "-"));
  const headers: Record<string, string | string[]> = Object.create(null) as Record<string, string | string[]>;
  const stripped: string[] = [];
  for (const f of fields) {
    if (HOP_BY_HOP.has(f.name) || connectionTokens.has(f.name)) continue;
    // CGI-style servers (PHP, WSGI, nginx with underscores_in_headers) map "_" and "-" to the same
    // variable, so "X_Tenet_User" would spoof "X-Tenet-User": compare with "_" read as "-".
    const canon = f.name.replace(/_/g, "-");
    const spoofable =
      prefixes.some((p) => canon.startsWith(p)) ||
      OVERRIDES.has(canon) ||
      (!trustForwarded && (FORWARDING_EXACT.has(canon) || canon.startsWith(FORWARDING_PREFIX)));
    if (spoofable || (trustForwarded && canon !== f.name && (FORWARDING_EXACT.has(canon) || canon.startsWith(FORWARDING_PREFIX)))) {
      if (!stripped.includes(f.name)) stripped.push(f.name);
      continue;
    }
    const prev = headers[f.name];
    if (prev === undefined) headers[f.name] = f.value;
    // RFC 6265 §5.4: a user agent sends one Cookie header; if there are several, join them as one.
    else if (f.name === "cookie") headers[f.name] = `${prev as string}; ${f.value}`;
    else headers[f.name] = Array.isArray(prev) ? [...prev, f.value] : [prev, f.value];
  }
  const result: StripResult = { headers: { ...headers }, stripped };
  if (upgrade !== undefined) result.upgrade = upgrade;
  return result;
}
