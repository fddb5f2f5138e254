/**
 * Request normalisation for the identity-aware proxy and the ext_authz endpoint (issue 8, "Bad input").
 *
 * Every request is normalised or rejected here, BEFORE any decision: the decision point must judge the
 * same request the upstream will serve. Anything two HTTP implementations could read differently
 * (paths, hosts, body framing, duplicated or hop-by-hop headers) is made canonical or refused with a
 * stable code. Pure: no I/O, no framework, no clock.
 *
 * Order of checks (first failure wins): HTTP version (505) → method → header count/bytes (431) → request-target length
 * (414) → header syntax → duplicate singletons (Host, Authorization, Content-Type) → body framing
 * (RFC 9112 §6.3) → request-target form and path → host → Connection/hop-by-hop → identity/forwarding
 * headers stripped.
 *
 * What Node 20's HTTP server refuses on its own (default, non-lenient llhttp; 400/431 and the
 * connection is closed; the request event never fires — pinned by test/enforcement/node-parser.test.ts):
 *   - Content-Length together with Transfer-Encoding; any Content-Length that is not one plain number
 *     (two lines, "5, 6", even "5, 5", "+5");
 *   - Transfer-Encoding where chunked is not the final coding ("chunked, identity"), two TE lines,
 *     TE values with odd whitespace (vertical tab);
 *   - obsolete line folding (RFC 9112 §5.2), whitespace before the colon (§5.1), CR/LF/NUL in values,
 *     invalid field names, unknown or lower-case methods, header sections over
 *     --max-http-header-size (16 KiB → 431), and (http layer, `requireHostHeader`) HTTP/1.1 without Host.
 * What reaches this module and is only caught here:
 *   - duplicate Host lines (Node keeps the first in `headers`; only `rawHeaders` shows the second),
 *     Host with userinfo, invalid hosts, absolute-form vs Host mismatch;
 *   - every path trick (dot segments, encoded slash/dot/backslash, double encoding, %00, "..;");
 *   - Transfer-Encoding "xchunked" (400) or "gzip, chunked" (501), TE in an HTTP/1.0 request;
 *   - Connection naming Host/Authorization/Cookie/Content-Length, hop-by-hop headers, spoofed
 *     identity/forwarding/override headers, TRACE.
 * The ext_authz endpoint receives requests as data (from Envoy), not through llhttp, so every check
 * that llhttp does is repeated here as well: this module must be safe on its own.
 */
import { checkMethod } from "./normalize/method.js";
import { checkFieldSyntax, checkSingletons, checkSizes, collectFields, type Field } from "./normalize/fields.js";
import { checkFraming } from "./normalize/framing.js";
import { normaliseHost } from "./normalize/host.js";
import { checkQuery, normalisePath } from "./normalize/path.js";
import { stripHeaders } from "./normalize/strip.js";
import { parseTarget } from "./normalize/target.js";
import {
  DEFAULT_IDENTITY_HEADER_PREFIXES,
  RejectError,
  reject,
  type NormalizeOptions,
  type NormalizeResult,
  type NormalizedRequest,
  type RawRequest,
} from "./normalize/types.js";

export type { Framing, NormalizeOptions, NormalizeResult, NormalizedRequest, RawRequest, Rejection, RejectionStatus } from "./normalize/types.js";
export { DEFAULT_IDENTITY_HEADER_PREFIXES } from "./normalize/types.js";
export { normalisePath } from "./normalize/path.js";
export { normaliseHost } from "./normalize/host.js";

export const DEFAULT_MAX_HEADER_BYTES = 16 * 1024;
export const DEFAULT_MAX_HEADER_COUNT = 100;
export const DEFAULT_MAX_URL_LENGTH = 8 * 1024;

export function normalizeRequest(raw: RawRequest, opts: NormalizeOptions = {}): NormalizeResult {
  try {
    return { ok: true, request: normalizeOrThrow(raw, opts) };
  } catch (err) {
    if (err instanceof RejectError) return { ok: false, rejection: err.rejection };
    throw err; // a bug, not bad input
  }
}

function normalizeOrThrow(raw: RawRequest, opts: NormalizeOptions): NormalizedRequest {
  const httpVersion = raw.httpVersion ?? "1.1";
  if (httpVersion !== "1.1" && httpVersion !== "1.0") reject(505, "http_version_not_supported", "only HTTP/1.0 and HTTP/1.1");
  const method = checkMethod(raw.method);

  const fields = collectFields(raw.headers, raw.rawHeaders);
  checkSizes(fields, opts.maxHeaderBytes ?? DEFAULT_MAX_HEADER_BYTES, opts.maxHeaderCount ?? DEFAULT_MAX_HEADER_COUNT);
  const maxUrl = opts.maxUrlLength ?? DEFAULT_MAX_URL_LENGTH;
  if (raw.url.length > maxUrl) reject(414, "url_too_long", `request-target longer than ${maxUrl}`);
  checkFieldSyntax(fields);
  checkSingletons(fields);
  const framing = checkFraming(fields, httpVersion);

  const target = parseTarget(raw.url, method, maxUrl);
  const path = target.form === "asterisk" ? "*" : normalisePath(target.rawPath);
  const query = checkQuery(target.query);

  if (opts.scheme !== undefined && target.scheme !== undefined && opts.scheme !== target.scheme) {
    reject(400, "bad_target", "absolute-form scheme does not match the listener");
  }
  const scheme = opts.scheme ?? target.scheme;
  const hostField = fields.find((f: Field) => f.name === "host");
  // RFC 9112 §3.2: a server MUST respond 400 to an HTTP/1.1 request without Host; routing needs it for 1.0 too.
  let host: string | undefined = hostField !== undefined && hostField.value !== "" ? normaliseHost(hostField.value, scheme) : undefined;
  if (target.authority !== undefined) {
    const fromTarget = normaliseHost(target.authority, scheme);
    // RFC 9112 §3.2.2 says the target's authority wins; a proxy that routes on one and forwards the
    // other is confusable, so a disagreement is refused instead.
    if (host !== undefined && host !== fromTarget) reject(400, "host_mismatch", "absolute-form authority does not match Host");
    host = fromTarget;
  }
  if (host === undefined) reject(400, "missing_host", "Host header is required");

  const stripped = stripHeaders(
    fields,
    method,
    httpVersion,
    opts.identityHeaderPrefixes ?? DEFAULT_IDENTITY_HEADER_PREFIXES,
    opts.trustForwarded ?? false,
  );
  stripped.headers["host"] = host; // the canonical host replaces the one received
  // Forward one canonical Content-Length ("5, 5" or "005" would be read differently upstream).
  if (framing.kind === "length") stripped.headers["content-length"] = String(framing.length);
  const request: NormalizedRequest = {
    method,
    host,
    path,
    rawPath: target.rawPath,
    query,
    targetForm: target.form,
    headers: stripped.headers,
    framing,
    stripped: stripped.stripped,
  };
  if (stripped.upgrade !== undefined) request.upgrade = stripped.upgrade;
  return request;
}
