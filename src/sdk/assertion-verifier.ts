/**
 * Verifies the identity assertion Tenet's proxy puts on every request it forwards (the
 * `x-tenet-assertion` header, like Pomerium's `X-Pomerium-Jwt-Assertion` or Google IAP's
 * `x-goog-iap-jwt-assertion`). An upstream app that verifies it knows who is calling, with which
 * assurance, from which device, and which decision let the request through; without verifying it,
 * anything that can reach the app directly could claim to be anyone.
 *
 * Apps import this file, so it depends on `jose` only (no other Tenet module, no database, no
 * framework). The keys come from Tenet's JWKS (`<issuer>/oidc/jwks` by default), fetched and cached
 * by `jose`'s `createRemoteJWKSet`, which refetches when a token names an unknown `kid` (at most
 * every 30 s) and when the copy is ten minutes old. Tenet publishes a key before it signs with it
 * and keeps publishing it after it stops (src/identity/oidc/keys.ts), so rotation needs nothing
 * here.
 *
 * What is checked (RFC 8725, JWT Best Current Practices):
 * - the signature, with an allow-list of algorithms (§3.1: never `none`, never what the token says);
 * - `typ` = `tenet-assertion+jwt` (§3.11): an ID token or access token signed by the same keys is
 *   refused, however its claims look;
 * - `iss` and `aud` (§3.8, §3.9): an assertion minted for another app cannot be replayed here;
 * - `exp`, `nbf`, `iat` with a small clock tolerance, and an optional maximum age;
 * - the claims Tenet always sets (`sub`, `exp`, `iat`, `jti`, `decision_id`) and their types.
 * Every failure is an `AssertionError` with a stable `code` an app can switch on.
 */
import { createRemoteJWKSet, errors, type JWTPayload, jwtVerify, type JWTVerifyGetKey } from "jose";

/** The `typ` header of an assertion (RFC 8725 §3.11: explicit typing). */
export const ASSERTION_TYP = "tenet-assertion+jwt";
/** The request header the proxy sets (lower case, as Node presents header names). */
export const ASSERTION_HEADER = "x-tenet-assertion";
/** The issuer never mints assertions that live longer than this (seconds). */
export const MAX_ASSERTION_TTL_SECONDS = 300;
/** Larger than any assertion Tenet makes; bigger input is refused before any parsing. */
const MAX_TOKEN_LENGTH = 16 * 1024;
const ALGORITHMS = ["ES256", "RS256", "EdDSA"];
const REQUIRED = ["sub", "exp", "iat", "jti", "decision_id"];

export type AssertionErrorCode =
  | "missing"
  | "malformed"
  | "bad_signature"
  | "expired"
  | "not_yet_valid"
  | "wrong_audience"
  | "wrong_issuer"
  | "wrong_type"
  | "jwks_unavailable";

export class AssertionError extends Error {
  override readonly name = "AssertionError";
  constructor(
    readonly code: AssertionErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
  /** The HTTP status an app would answer with: the JWKS being down is not the caller's fault. */
  get status(): 401 | 503 {
    return this.code === "jwks_unavailable" ? 503 : 401;
  }
}

/** Who is calling, as Tenet's proxy established it for this request. */
export interface TenetIdentity {
  /** The user id (`sub`). */
  subject: string;
  email?: string;
  groups: string[];
  /** Authentication context class reference (e.g. `http://schemas.openid.net/pape/policies/2007/06/phishing-resistant`). */
  acr?: string;
  amr: string[];
  /** When the user authenticated (seconds since the epoch). */
  authTime?: number;
  deviceId?: string;
  sessionId?: string;
  /** The decision that allowed this request (look it up in Tenet's audit log). */
  decisionId: string;
  /** The `aud` the assertion was issued for. */
  audience: string;
  issuer: string;
  /** The assertion's own id (`jti`). */
  id: string;
  issuedAt: number;
  expiresAt: number;
  /** Every claim, for anything not mapped above. */
  claims: JWTPayload;
}

export interface AssertionVerifierOptions {
  /** Tenet's public URL (exactly as in the assertion's `iss`). */
  issuer: string;
  /** This app's route URL or id (one of them must be the assertion's `aud`). */
  audience: string | string[];
  /** Default `${issuer}/oidc/jwks`. */
  jwksUri?: string;
  /** Default 5 seconds. */
  clockToleranceSeconds?: number;
  /** Refuse assertions issued longer ago than this (seconds), whatever their `exp`. */
  maxAgeSeconds?: number;
  /** Milliseconds to wait for the JWKS (default 5000). */
  jwksTimeoutMs?: number;
  /** The clock (milliseconds), for tests. */
  now?: () => number;
}

export interface AssertionVerifier {
  verify(token: string): Promise<TenetIdentity>;
}

function nonEmpty(value: unknown, what: string): string {
  if (typeof value !== "string" || value.trim() === "") throw new TypeError(`${what} must be a non-empty string`);
  return value;
}

export function createAssertionVerifier(options: AssertionVerifierOptions): AssertionVerifier {
  const issuer = nonEmpty(options.issuer, "issuer").replace(/\/+$/, "");
  const audiences = (Array.isArray(options.audience) ? options.audience : [options.audience]).map((a) => nonEmpty(a, "audience"));
  if (audiences.length === 0) throw new TypeError("audience must name at least one audience");
  const jwksUri = new URL(options.jwksUri ?? `${issuer}/oidc/jwks`);
  const tolerance = options.clockToleranceSeconds ?? 5;
  if (!Number.isFinite(tolerance) || tolerance < 0 || tolerance > 300) throw new TypeError("clockToleranceSeconds must be between 0 and 300");
  const maxAge = options.maxAgeSeconds;
  if (maxAge !== undefined && (!Number.isFinite(maxAge) || maxAge <= 0)) throw new TypeError("maxAgeSeconds must be a positive number");
  const now = options.now ?? Date.now;
  const remote = createRemoteJWKSet(jwksUri, { timeoutDuration: options.jwksTimeoutMs ?? 5000 });

  // Errors while fetching the key set are told apart from errors in the token: an unreachable
  // JWKS is an outage (503), not a forged assertion. An unknown `kid` (after the refetch) is a
  // token nobody here can vouch for.
  const getKey: JWTVerifyGetKey = async (header, token) => {
    try {
      return await remote(header, token);
    } catch (err) {
      if (err instanceof errors.JWKSNoMatchingKey || err instanceof errors.JWKSMultipleMatchingKeys) {
        throw new AssertionError("bad_signature", "the assertion is signed by a key Tenet does not publish", { cause: err });
      }
      if (err instanceof errors.JOSENotSupported || err instanceof errors.JOSEAlgNotAllowed) throw err;
      throw new AssertionError("jwks_unavailable", `cannot fetch Tenet's signing keys from ${jwksUri.href}`, { cause: err });
    }
  };

  return {
    async verify(token: string): Promise<TenetIdentity> {
      if (token === undefined || token === null || token === "") throw new AssertionError("missing", "no identity assertion");
      if (typeof token !== "string") throw new AssertionError("malformed", "the identity assertion is not a string");
      if (token.length > MAX_TOKEN_LENGTH) throw new AssertionError("malformed", "the identity assertion is too long");
      const at = now();
      let payload: JWTPayload;
      try {
        ({ payload } = await jwtVerify(token, getKey, {
          algorithms: ALGORITHMS,
          typ: ASSERTION_TYP,
          issuer,
          audience: audiences,
          requiredClaims: REQUIRED,
          clockTolerance: tolerance,
          currentDate: new Date(at),
          ...(maxAge !== undefined ? { maxTokenAge: maxAge } : {}),
        }));
      } catch (err) {
        throw toAssertionError(err);
      }
      return identityOf(payload, at, tolerance);
    },
  };
}

function toAssertionError(err: unknown): AssertionError {
  if (err instanceof AssertionError) return err;
  if (err instanceof errors.JWTExpired) return new AssertionError("expired", "the identity assertion has expired", { cause: err });
  if (err instanceof errors.JWTClaimValidationFailed) {
    if (err.reason === "missing") return new AssertionError("malformed", `the identity assertion has no "${err.claim}" claim`, { cause: err });
    switch (err.claim) {
      case "typ":
        return new AssertionError("wrong_type", `the token is not a Tenet identity assertion (typ must be ${ASSERTION_TYP})`, { cause: err });
      case "iss":
        return new AssertionError("wrong_issuer", "the identity assertion is from another issuer", { cause: err });
      case "aud":
        return new AssertionError("wrong_audience", "the identity assertion is for another application", { cause: err });
      case "nbf":
      case "iat":
        return new AssertionError("not_yet_valid", "the identity assertion is not valid yet (check the clocks)", { cause: err });
      default:
        return new AssertionError("malformed", `the identity assertion's "${err.claim}" claim is invalid`, { cause: err });
    }
  }
  if (err instanceof errors.JWSSignatureVerificationFailed || err instanceof errors.JOSEAlgNotAllowed || err instanceof errors.JOSENotSupported) {
    return new AssertionError("bad_signature", "the identity assertion's signature does not verify", { cause: err });
  }
  // JWSInvalid, JWTInvalid and anything else that could not even be parsed.
  return new AssertionError("malformed", "the identity assertion is not a valid JWT", { cause: err });
}

function optionalString(payload: JWTPayload, claim: string): string | undefined {
  const v = payload[claim];
  if (v === undefined) return undefined;
  if (typeof v !== "string" || v === "") throw new AssertionError("malformed", `the identity assertion's "${claim}" claim must be a string`);
  return v;
}

function stringList(payload: JWTPayload, claim: string): string[] {
  const v = payload[claim];
  if (v === undefined) return [];
  if (!Array.isArray(v) || v.some((x) => typeof x !== "string")) throw new AssertionError("malformed", `the identity assertion's "${claim}" claim must be a list of strings`);
  return v as string[];
}

function identityOf(payload: JWTPayload, atMs: number, tolerance: number): TenetIdentity {
  const sub = optionalString(payload, "sub");
  const jti = optionalString(payload, "jti");
  const decisionId = optionalString(payload, "decision_id");
  if (sub === undefined || jti === undefined || decisionId === undefined) throw new AssertionError("malformed", "the identity assertion lacks sub, jti or decision_id");
  const { iat, exp } = payload as { iat: number; exp: number };
  // jose checks `iat` only against a maximum age; an assertion "issued" in the future is refused
  // here, and so is one that claims a lifetime Tenet never gives (a long-lived token with this
  // `typ` would not be Tenet's doing).
  if (iat > atMs / 1000 + tolerance) throw new AssertionError("not_yet_valid", "the identity assertion was issued in the future (check the clocks)");
  if (exp - iat > MAX_ASSERTION_TTL_SECONDS) throw new AssertionError("malformed", "the identity assertion lives longer than Tenet ever issues one for");
  const aud = Array.isArray(payload.aud) ? payload.aud[0] : payload.aud;
  const authTime = payload.auth_time;
  if (authTime !== undefined && (typeof authTime !== "number" || !Number.isFinite(authTime))) throw new AssertionError("malformed", 'the identity assertion\'s "auth_time" claim must be a number');
  const id: TenetIdentity = {
    subject: sub,
    groups: stringList(payload, "groups"),
    amr: stringList(payload, "amr"),
    decisionId,
    audience: aud ?? "",
    issuer: payload.iss ?? "",
    id: jti,
    issuedAt: iat,
    expiresAt: exp,
    claims: payload,
  };
  const email = optionalString(payload, "email");
  const acr = optionalString(payload, "acr");
  const deviceId = optionalString(payload, "device_id");
  const sessionId = optionalString(payload, "sid");
  if (email !== undefined) id.email = email;
  if (acr !== undefined) id.acr = acr;
  if (deviceId !== undefined) id.deviceId = deviceId;
  if (sessionId !== undefined) id.sessionId = sessionId;
  if (typeof authTime === "number") id.authTime = authTime;
  return id;
}

/** Node's `req.headers`, a Fetch `Headers`, or any map of header names to values. */
export type HeaderSource = Headers | { get(name: string): string | null } | Record<string, string | string[] | undefined>;

/**
 * The assertion from a request's headers. Exactly one value is accepted: two copies of the header
 * mean something between the proxy and the app added one, and guessing which is Tenet's would be
 * a way around it.
 */
export function assertionFromHeaders(headers: HeaderSource, name: string = ASSERTION_HEADER): string {
  const lower = name.toLowerCase();
  let value: string | string[] | null | undefined;
  if (typeof (headers as { get?: unknown }).get === "function") {
    value = (headers as { get(n: string): string | null }).get(lower);
  } else {
    const record = headers as Record<string, string | string[] | undefined>;
    value = record[lower];
    if (value === undefined) {
      const key = Object.keys(record).find((k) => k.toLowerCase() === lower);
      value = key === undefined ? undefined : record[key];
    }
  }
  if (Array.isArray(value)) {
    if (value.length > 1) throw new AssertionError("malformed", `more than one ${name} header`);
    value = value[0];
  }
  const token = typeof value === "string" ? value.trim() : "";
  // Node's `req.headers` and a Fetch `Headers` join repeated headers with ", ", which no JWT contains.
  if (token.includes(",")) throw new AssertionError("malformed", `more than one ${name} header`);
  if (token === "") throw new AssertionError("missing", `no ${name} header: was the request sent through Tenet's proxy?`);
  return token;
}
