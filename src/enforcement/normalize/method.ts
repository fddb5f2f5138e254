import { reject } from "./types.js";

/** tchar (RFC 9110 §5.6.2): the only characters allowed in a method (RFC 9110 §9.1: method = token). */
export const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

/**
 * Methods are case-sensitive (RFC 9110 §9.1), so "get" is not GET. Some upstreams compare
 * case-insensitively, so a policy written for "GET" could be bypassed with "get": lower-case letters
 * are refused with 501 (an unrecognised method, RFC 9110 §15.6.2). Node's parser only accepts its
 * list of known upper-case methods anyway; this matters for ext_authz, where the method comes from Envoy.
 */
export function checkMethod(method: string): string {
  if (method.length === 0 || method.length > 32 || !TOKEN.test(method)) {
    reject(400, "bad_method", "method is not a valid token");
  }
  if (/[a-z]/.test(method)) reject(501, "unsupported_method", "methods are case-sensitive; lower-case methods are not supported");
  // TRACE/TRACK echo the request, headers included (cookies, Tenet's assertion): cross-site tracing.
  if (method === "TRACE" || method === "TRACK") reject(405, "method_not_allowed", `${method} is not allowed`);
  // CONNECT asks for a tunnel (RFC 9110 §9.3.6); an identity-aware proxy only forwards HTTP requests.
  if (method === "CONNECT") reject(405, "method_not_allowed", "CONNECT is not supported");
  return method;
}
