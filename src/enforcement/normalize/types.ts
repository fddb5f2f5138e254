/** Types shared by the request-normalisation steps (see ../normalize.ts for the overview). */

/** A request as a Node HTTP server (or an ext_authz adapter) received it, before any trust. */
export interface RawRequest {
  method: string;
  /** The request-target exactly as received: origin-form ("/a/../b?x=1"), absolute-form, "*" or authority-form. */
  url: string;
  /** Node's `IncomingMessage.headers` (lower-case names; Node has already merged or dropped duplicates). */
  headers: Record<string, string | string[] | undefined>;
  /**
   * Node's `IncomingMessage.rawHeaders` ([name, value, name, value, ...], as received). When given, it is
   * the source of truth: it is the only way to see duplicate Host/Content-Length/Transfer-Encoding lines
   * that Node silently collapses in `headers`.
   */
  rawHeaders?: string[];
  /** "1.0" or "1.1" (Node's `IncomingMessage.httpVersion`). Missing means "1.1". */
  httpVersion?: string;
}

export type Framing =
  | { kind: "none" } // no body (RFC 9112 §6.3 item 7: no CL, no TE in a request → length 0)
  | { kind: "length"; length: number }
  | { kind: "chunked" };

export interface NormalizedRequest {
  method: string;
  /** Lower-case, no trailing dot, port kept only if it is not the default port of the scheme. */
  host: string;
  /** Normalised path (dot segments removed, repeated slashes collapsed, unreserved chars decoded), or "*" for `OPTIONS *`. */
  path: string;
  /** The path part of the request-target as received (before normalisation), for logs. */
  rawPath: string;
  /** The query string without the leading "?", unchanged ("" when absent). */
  query: string;
  /** Which request-target form was received (RFC 9112 §3.2). */
  targetForm: "origin" | "absolute" | "asterisk";
  /** Headers to forward: lower-case names; hop-by-hop, spoofable identity and forwarding headers removed. */
  headers: Record<string, string | string[]>;
  /** "websocket" when the request is a valid WebSocket upgrade (RFC 6455 §4.1); the Upgrade header itself is removed. */
  upgrade?: "websocket";
  /** How the body is delimited; a body on GET/HEAD is allowed by RFC 9110 §9.3.1 but has no defined semantics. */
  framing: Framing;
  /** Lower-case names of client-sent headers that were stripped because they could spoof identity or origin (for audit). */
  stripped: string[];
}

export type RejectionStatus = 400 | 403 | 404 | 405 | 413 | 414 | 431 | 501 | 505;

/** A refusal with a stable machine code; `message` is for humans and may change. */
export interface Rejection {
  status: RejectionStatus;
  code: string;
  message: string;
}

export type NormalizeResult = { ok: true; request: NormalizedRequest } | { ok: false; rejection: Rejection };

export interface NormalizeOptions {
  /** Total header bytes (names + values + ": " + CRLF per line). Default 16 KiB. Over → 431. */
  maxHeaderBytes?: number;
  /** Number of header lines. Default 100. Over → 431. */
  maxHeaderCount?: number;
  /** Length of the request-target. Default 8 KiB. Over → 414. */
  maxUrlLength?: number;
  /** Header-name prefixes that only Tenet may set (case-insensitive; "_" is treated as "-"). */
  identityHeaderPrefixes?: string[];
  /** Keep X-Forwarded-*, Forwarded and X-Real-IP from the client (only behind a trusted load balancer). Default false. */
  trustForwarded?: boolean;
  /**
   * Scheme of the listener that received the request. Its default port (80 for http, 443 for https) is
   * stripped from the host. When absent only the absolute-form scheme (if any) tells; otherwise the port
   * is kept: stripping both :80 and :443 would conflate two different origins (RFC 6454 §4).
   */
  scheme?: "http" | "https";
}

export const DEFAULT_IDENTITY_HEADER_PREFIXES: readonly string[] = Object.freeze([
  "x-tenet-",
  "x-forwarded-user",
  "x-forwarded-email",
  "x-forwarded-groups",
  "x-forwarded-preferred-username",
  "x-forwarded-access-token",
  "x-auth-request-",
  "x-remote-user",
  "remote-user",
  "x-user",
  "x-email",
]);

/** Internal: thrown by a step, caught only by normalizeRequest. */
export class RejectError extends Error {
  constructor(readonly rejection: Rejection) {
    super(rejection.message);
  }
}

export function reject(status: RejectionStatus, code: string, message: string): never {
  throw new RejectError({ status, code, message });
}
