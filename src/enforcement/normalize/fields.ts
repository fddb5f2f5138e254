import { TOKEN } from "./method.js";
import { reject } from "./types.js";

/** One header field line: lower-case name, value with surrounding OWS removed (RFC 9110 §5.5). */
export interface Field {
  name: string;
  value: string;
}

/**
 * Header lines in received order. `rawHeaders` is preferred because Node's `headers` object drops
 * duplicate Host/Content-Type/Authorization lines (keeps the first) and joins others with ", ", which
 * would hide exactly the duplicates request smuggling relies on.
 */
export function collectFields(headers: Record<string, string | string[] | undefined>, rawHeaders: string[] | undefined): Field[] {
  const fields: Field[] = [];
  if (rawHeaders !== undefined) {
    if (rawHeaders.length % 2 !== 0) reject(400, "bad_header", "rawHeaders must be name/value pairs");
    for (let i = 0; i < rawHeaders.length; i += 2) fields.push(field(rawHeaders[i] as string, rawHeaders[i + 1] as string));
    return fields;
  }
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined) continue;
    if (Array.isArray(value)) for (const v of value) fields.push(field(name, v));
    else fields.push(field(name, value));
  }
  return fields;
}

function field(name: string, value: string): Field {
  return { name: name.toLowerCase(), value: value.replace(/^[ \t]+|[ \t]+$/g, "") };
}

/**
 * Size limits (RFC 6585 §5: 431 Request Header Fields Too Large) are checked before anything else so
 * that an oversized request costs as little as possible. Bytes are counted as on the wire:
 * name + ": " + value + CRLF. Node's own --max-http-header-size (16 KiB) applies before this; the
 * check here matters for ext_authz and for deployments that raise Node's limit.
 */
export function checkSizes(fields: Field[], maxBytes: number, maxCount: number): void {
  if (fields.length > maxCount) reject(431, "too_many_headers", `more than ${maxCount} header fields`);
  let total = 0;
  for (const f of fields) total += f.name.length + f.value.length + 4;
  if (total > maxBytes) reject(431, "header_too_large", `header fields exceed ${maxBytes} bytes`);
}

/**
 * Field syntax (RFC 9110 §5.1, §5.5): names are tokens; values contain no CR, LF or NUL (RFC 9110 §5.5:
 * a recipient MUST reject or replace them) and no other control characters except HTAB. Node's parser
 * enforces this for HTTP/1.1; it is repeated because the ext_authz endpoint receives headers as data.
 */
export function checkFieldSyntax(fields: Field[]): void {
  for (const f of fields) {
    if (!TOKEN.test(f.name)) reject(400, "bad_header", "header name is not a token");
    // eslint-disable-next-line no-control-regex
    if (/[\x00-\x08\x0a-\x1f\x7f]/.test(f.value)) reject(400, "bad_header", `control character in ${f.name}`);
  }
}

/** Fields whose duplicates make the request ambiguous (which one does the upstream use?). */
const SINGLETONS = new Set(["host", "authorization", "content-type"]);

export function checkSingletons(fields: Field[]): void {
  const seen = new Set<string>();
  for (const f of fields) {
    if (!SINGLETONS.has(f.name)) continue;
    if (seen.has(f.name)) reject(400, f.name === "host" ? "duplicate_host" : "duplicate_header", `more than one ${f.name} header`);
    seen.add(f.name);
  }
}
