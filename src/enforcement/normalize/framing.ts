import { TOKEN } from "./method.js";
import type { Field } from "./fields.js";
import { reject, type Framing } from "./types.js";

/**
 * Message body length (RFC 9112 §6.3), the heart of request-smuggling defence: the proxy and the
 * upstream must agree on where this request ends. Anything ambiguous is refused with 400 and the caller
 * must close the connection (RFC 9112 §6.3 items 4–5).
 *
 * - Content-Length and Transfer-Encoding together → 400 ambiguous_length. RFC 9112 §6.1 allows a server
 *   to reject this or to let TE win; rejecting is the only choice safe against a lenient upstream.
 * - Content-Length: each line may be a comma list (RFC 9110 §8.6 lets recipients accept "5, 5"); all
 *   members must be the same 1*DIGIT value, else 400 (ambiguous_length if they differ, bad_content_length
 *   if one is not digits: "+5", "0x5", "5.0", "" …).
 * - Transfer-Encoding: exactly one field line. Its list must end with "chunked" (case-insensitive,
 *   RFC 9112 §7: coding names are case-insensitive), else the length cannot be determined →
 *   400 bad_transfer_encoding (§6.3 item 4: "chunked, identity", "xchunked", "identity", repeated
 *   "chunked"). A list that ends in chunked but has other codings first ("gzip, chunked") is
 *   well-framed but uses a coding we do not implement → 501 unsupported_transfer_encoding (§6.1: a
 *   server SHOULD respond 501 to a transfer coding it does not understand).
 * - Transfer-Encoding in an HTTP/1.0 request → 400 (RFC 9112 §6.1: the framing MUST be treated as faulty).
 * - Leading/trailing SP/HTAB is OWS and is removed (Node does the same); any other whitespace or
 *   obfuscation (" chunked" with a vertical tab, quoted values) fails the token syntax.
 * A body on GET or HEAD is allowed (RFC 9110 §9.3.1–2: no defined semantics); it is reported through
 * `framing` so the caller can decide, not refused.
 */
export function checkFraming(fields: Field[], httpVersion: string): Framing {
  const cl = fields.filter((f) => f.name === "content-length");
  const te = fields.filter((f) => f.name === "transfer-encoding");
  if (cl.length > 0 && te.length > 0) reject(400, "ambiguous_length", "both Content-Length and Transfer-Encoding");
  if (te.length > 0) {
    if (httpVersion === "1.0") reject(400, "bad_transfer_encoding", "Transfer-Encoding in an HTTP/1.0 request");
    if (te.length > 1) reject(400, "bad_transfer_encoding", "more than one Transfer-Encoding header");
    const codings = (te[0] as Field).value.split(",").map((c) => c.replace(/^[ \t]+|[ \t]+$/g, "").toLowerCase());
    if (codings.some((c) => !TOKEN.test(c))) reject(400, "bad_transfer_encoding", "malformed Transfer-Encoding");
    if (codings[codings.length - 1] !== "chunked" || codings.indexOf("chunked") !== codings.length - 1) {
      reject(400, "bad_transfer_encoding", "chunked must be the final and only-once transfer coding");
    }
    if (codings.length > 1) reject(501, "unsupported_transfer_encoding", "only the chunked transfer coding is supported");
    return { kind: "chunked" };
  }
  if (cl.length === 0) return { kind: "none" };
  let length: string | undefined;
  for (const f of cl) {
    for (const member of f.value.split(",")) {
      const v = member.replace(/^[ \t]+|[ \t]+$/g, "");
      if (!/^[0-9]{1,15}$/.test(v)) reject(400, "bad_content_length", "Content-Length is not a decimal number");
      const n = String(Number(v)); // "05" and "5" are the same length
      if (length !== undefined && length !== n) reject(400, "ambiguous_length", "conflicting Content-Length values");
      length = n;
    }
  }
  return { kind: "length", length: Number(length) };
}
