/**
 * Device keys and signed posture reports.
 *
 * A report is a compact JWS (RFC 7515 §7.1) signed by the device's own key:
 *   header  { alg: "ES256" | "EdDSA", typ: "tenet-posture+jwt" }
 *   payload { iss: <deviceId>, sub: <deviceId>, iat, jti, posture }
 * The explicit `typ` keeps a posture report from being accepted as any other kind of JWT signed
 * by the same key and vice versa (RFC 8725 §3.11). The verifier uses only the key stored at
 * enrolment and an explicit algorithm allow-list tied to that key's type (RFC 8725 §3.1): header
 * members that name keys (`jwk`, `jku`, `x5u`, `kid`) are never followed.
 */
import { randomBytes } from "node:crypto";
import { calculateJwkThumbprint, compactVerify, CompactSign, type CryptoKey, decodeProtectedHeader, importJWK, type JWK } from "jose";
import { z } from "zod";
import { TenetError } from "../../errors.js";
import { parsePosture, type Posture } from "./posture.js";
import type { DeviceAlg, DevicePublicJwk } from "./types.js";

export const POSTURE_TYP = "tenet-posture+jwt";
/** Reports larger than this are refused before any parsing (a real one is well under 2 KiB). */
export const MAX_REPORT_BYTES = 16 * 1024;

/**
 * Algorithms accepted per key type. `Ed25519` is the fully-specified name of EdDSA over Ed25519
 * (RFC 9864); both name the same signature.
 */
const ALGS_FOR: Record<DevicePublicJwk["kty"], readonly string[]> = { EC: ["ES256"], OKP: ["EdDSA", "Ed25519"] };

const B64URL = /^[A-Za-z0-9_-]+$/;
const coordinate = z.string().length(43).regex(B64URL, "must be 32 bytes, base64url");
const ecJwk = z.object({ kty: z.literal("EC"), crv: z.literal("P-256"), x: coordinate, y: coordinate });
const okpJwk = z.object({ kty: z.literal("OKP"), crv: z.literal("Ed25519"), x: coordinate });

export interface DeviceKey {
  publicKey: DevicePublicJwk;
  alg: DeviceAlg;
  /** RFC 7638 thumbprint, SHA-256, base64url. */
  thumbprint: string;
}

/**
 * Validates a device's public JWK: EC P-256 or OKP Ed25519, public members only, a point that
 * imports (is on the curve). Returns its reduced form, algorithm and thumbprint.
 */
export async function deviceKeyOf(jwk: unknown): Promise<DeviceKey> {
  if (typeof jwk !== "object" || jwk === null || Array.isArray(jwk)) throw new TenetError("validation_error", "publicKey must be a JWK object");
  // A private key sent by mistake must not be stored (nor echoed back in an error).
  for (const priv of ["d", "p", "q", "dp", "dq", "qi", "k"]) {
    if (priv in jwk) throw new TenetError("validation_error", "publicKey must be a public key: it has private key members (keep the private key on the device)");
  }
  const kty = (jwk as { kty?: unknown }).kty;
  const r = kty === "EC" ? ecJwk.safeParse(jwk) : kty === "OKP" ? okpJwk.safeParse(jwk) : undefined;
  if (!r?.success) throw new TenetError("validation_error", "publicKey must be an EC P-256 (ES256) or OKP Ed25519 (EdDSA) public JWK");
  const publicKey: DevicePublicJwk = r.data.kty === "EC" ? { kty: "EC", crv: "P-256", x: r.data.x, y: (r.data as { y: string }).y } : { kty: "OKP", crv: "Ed25519", x: r.data.x };
  const alg: DeviceAlg = publicKey.kty === "EC" ? "ES256" : "EdDSA";
  try {
    await importJWK(publicKey as JWK, alg);
  } catch {
    throw new TenetError("validation_error", "publicKey is not a valid key (the point is not on the curve)");
  }
  return { publicKey, alg, thumbprint: await calculateJwkThumbprint(publicKey as JWK, "sha256") };
}

/** A fresh report nonce: 128 random bits, base64url. */
export function newJti(): string {
  return randomBytes(16).toString("base64url");
}

/** Signs a posture report (the agent's side; tests use it too). */
export async function signPostureReport(
  privateKey: CryptoKey | JWK,
  opts: { deviceId: string; alg: DeviceAlg; posture: Posture; iat?: number; jti?: string; typ?: string },
): Promise<string> {
  const key = "kty" in privateKey ? await importJWK(privateKey as JWK, opts.alg) : privateKey;
  const payload = { iss: opts.deviceId, sub: opts.deviceId, iat: opts.iat ?? Math.floor(Date.now() / 1000), jti: opts.jti ?? newJti(), posture: opts.posture };
  return new CompactSign(new TextEncoder().encode(JSON.stringify(payload))).setProtectedHeader({ alg: opts.alg, typ: opts.typ ?? POSTURE_TYP }).sign(key);
}

const payloadSchema = z.object({
  iss: z.string().min(1).max(64),
  sub: z.string().min(1).max(64),
  iat: z.number().int().nonnegative(),
  jti: z.string().min(16).max(128).regex(B64URL, "must be base64url"),
  posture: z.unknown(),
});

export interface VerifiedReport {
  deviceId: string;
  /** Seconds since the epoch, as the device signed it. */
  iat: number;
  jti: string;
  posture: Posture;
}

function bad(message: string): TenetError {
  return new TenetError("unauthenticated", `posture report refused: ${message}`);
}

/**
 * Which device a report claims to come from, read *before* verification so that its key can be
 * looked up. Nothing else of an unverified report is used. Throws `validation_error` for what is
 * not a compact JWS at all.
 */
export function claimedDevice(jws: unknown): string {
  if (typeof jws !== "string" || jws.length === 0) throw new TenetError("validation_error", "report must be a compact JWS");
  if (jws.length > MAX_REPORT_BYTES) throw new TenetError("validation_error", `report is larger than ${MAX_REPORT_BYTES} bytes`);
  const parts = jws.split(".");
  if (parts.length !== 3 || !parts.every((p) => B64URL.test(p))) throw new TenetError("validation_error", "report must be a compact JWS (three base64url parts)");
  let claims: unknown;
  try {
    claims = JSON.parse(Buffer.from(parts[1]!, "base64url").toString("utf8"));
  } catch {
    throw new TenetError("validation_error", "report payload is not JSON");
  }
  const iss = (claims as { iss?: unknown } | null)?.iss;
  if (typeof iss !== "string" || iss.length === 0 || iss.length > 64) throw new TenetError("validation_error", "report payload has no iss (the device id)");
  return iss;
}

/**
 * Verifies a report with the device's stored key: the header's `typ` and `alg` (allow-listed for
 * the key type), the signature, then the claims. Time windows and replays are the registry's
 * (it knows the clock and the device's recent reports).
 */
export async function verifyPostureReport(jws: string, device: { id: string; publicKey: DevicePublicJwk }): Promise<VerifiedReport> {
  let header: ReturnType<typeof decodeProtectedHeader>;
  try {
    header = decodeProtectedHeader(jws);
  } catch {
    throw new TenetError("validation_error", "report header is not valid JSON");
  }
  // RFC 7515 §4.1.9: typ is a media type, compared case-insensitively.
  if (typeof header.typ !== "string" || header.typ.toLowerCase() !== POSTURE_TYP) throw bad(`typ must be '${POSTURE_TYP}'`);
  const algs = ALGS_FOR[device.publicKey.kty];
  if (typeof header.alg !== "string" || !algs.includes(header.alg)) throw bad(`alg must be ${algs.join(" or ")} for this device's key`);
  let payload: Uint8Array;
  try {
    const key = await importJWK(device.publicKey as JWK, header.alg);
    ({ payload } = await compactVerify(jws, key, { algorithms: [...algs] }));
  } catch {
    throw bad("the signature does not verify with the device's key");
  }
  let claims: unknown;
  try {
    claims = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(payload));
  } catch {
    throw new TenetError("validation_error", "report payload is not JSON");
  }
  const r = payloadSchema.safeParse(claims);
  if (!r.success) {
    throw new TenetError("validation_error", `invalid report claims: ${r.error.issues.map((i) => `${i.path.join(".") || "payload"}: ${i.message}`).join("; ")}`);
  }
  if (r.data.iss !== device.id || r.data.sub !== device.id) throw bad("iss and sub must both be the device id");
  return { deviceId: device.id, iat: r.data.iat, jti: r.data.jti, posture: parsePosture(r.data.posture) };
}
