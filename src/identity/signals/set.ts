/**
 * Security Event Tokens (RFC 8417) as the Shared Signals Framework 1.0 profiles them (SSF §4.1):
 *
 *   header  { alg, kid, typ: "secevent+jwt" }          explicit typing (RFC 8417 §2.3, SSF §4.1.1)
 *   claims  { iss, jti, iat, aud, txn?, sub_id, events: { <type URI>: { ... } } }
 *
 * No `sub` (the subject is `sub_id`, SSF §4.1.2) and no `exp` (SSF §4.1.7): both keep a SET from
 * being mistaken for an ID token or an access token (RFC 8417 §4). One event per SET (§4.2.1).
 *
 * Signing is behind `SetSigner` so the IdP's keys sign SETs and receivers verify them with the
 * keys at Tenet's `jwks_uri`. `es256Signer` is a self-contained signer for tests and tools.
 */
import { exportJWK, generateKeyPair, type JSONWebKeySet, type JWK, type JWTPayload, SignJWT } from "jose";
import type { SubjectId } from "./events.js";

export const SET_TYPE = "secevent+jwt";

export interface SetSigner {
  /** Signs `payload` as a compact JWS whose protected header includes `header` (and its own alg, kid). */
  sign(payload: JWTPayload, header: { typ: string }): Promise<string>;
  /** The `iss` of every SET: Tenet's issuer identifier, as in its SSF configuration. */
  readonly issuer: string;
}

/** The claims of one SET. */
export interface SetPayload extends JWTPayload {
  iss: string;
  jti: string;
  iat: number;
  aud: string;
  txn?: string;
  sub_id: SubjectId;
  events: Record<string, Record<string, unknown>>;
}

export interface SetInput {
  issuer: string;
  audience: string;
  jti: string;
  /** Seconds since the epoch. */
  iat: number;
  /** The same for every SET caused by one underlying event (SSF §4.1.9). */
  txn?: string | undefined;
  subject: SubjectId;
  type: string;
  event: Record<string, unknown>;
}

export function setPayload(i: SetInput): SetPayload {
  return {
    iss: i.issuer,
    jti: i.jti,
    iat: i.iat,
    aud: i.audience,
    ...(i.txn !== undefined ? { txn: i.txn } : {}),
    sub_id: i.subject,
    events: { [i.type]: i.event },
  };
}

/** The compact JWS of `payload`, typed `secevent+jwt`. */
export async function signSet(signer: SetSigner, payload: SetPayload): Promise<string> {
  if ("sub" in payload || "exp" in payload) throw new TypeError("a SET must not have sub or exp claims (SSF 1.0 §4.1)");
  return signer.sign(payload, { typ: SET_TYPE });
}

/**
 * An ES256 signer with a fresh key pair and its public JWKS: for tests, and for running a
 * transmitter before the IdP's keys are wired in. The private key is not extractable.
 */
export async function es256Signer(issuer: string, kid = "ssf-es256"): Promise<SetSigner & { jwks: JSONWebKeySet }> {
  const { privateKey, publicKey } = await generateKeyPair("ES256");
  const jwk: JWK = { ...(await exportJWK(publicKey)), kid, alg: "ES256", use: "sig" };
  return {
    issuer,
    jwks: { keys: [jwk] },
    sign: (payload, header) => new SignJWT(payload).setProtectedHeader({ alg: "ES256", kid, typ: header.typ }).sign(privateKey),
  };
}
