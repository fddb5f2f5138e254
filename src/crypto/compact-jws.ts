/**
 * ES256 compact JWS (RFC 7515 §7.1, RFC 7518 §3.4) signed with Node's crypto directly: on hot
 * paths (an identity assertion per proxied request) jose's general-purpose signer spends most of
 * its time outside the signature (claim building, WebCrypto promises, encodings). The output is
 * an ordinary JWT that jose and any other JOSE library verifies.
 */
import { type KeyObject, sign } from "node:crypto";

const b64url = (s: string): string => Buffer.from(s, "utf8").toString("base64url");

/**
 * `header` must not hold `alg`: it is always ES256 here. The signature is computed on libuv's
 * thread pool (crypto.sign with a callback), not on the event loop: an ECDSA signature costs
 * ~100 µs of CPU, which would otherwise hold every other request back.
 */
export function signEs256(header: Record<string, unknown>, payload: Record<string, unknown>, key: KeyObject): Promise<string> {
  const input = `${b64url(JSON.stringify({ alg: "ES256", ...header }))}.${b64url(JSON.stringify(payload))}`;
  return new Promise((resolve, reject) => {
    // JWS wants the raw r‖s signature (IEEE P1363), not DER.
    sign("sha256", Buffer.from(input, "utf8"), { key, dsaEncoding: "ieee-p1363" }, (err, signature) => {
      if (err) reject(err);
      else resolve(`${input}.${signature.toString("base64url")}`);
    });
  });
}
