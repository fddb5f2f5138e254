/**
 * The key a proxy running alone (`--roles proxy`) signs identity assertions with: it cannot use
 * the identity provider's keys, which never leave their server. An ES256 key in a PEM file
 * (`TENET_PROXY_SIGNING_KEY_FILE`, else `<data dir>/proxy-signing-key.pem`, created with mode 0600
 * on first start). Replicas behind one load balancer must share the file, so that an upstream
 * verifying against any replica's JWKS knows every replica's key (as Pomerium's `signing_key`).
 * Its public half is published at `/.well-known/tenet/jwks.json` on every routed host.
 */
import { createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject } from "node:crypto";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { dirname } from "node:path";
import { calculateJwkThumbprint, type JWK } from "jose";
import { TenetError } from "../../errors.js";
import { signEs256 } from "../../crypto/compact-jws.js";

export interface AssertionKey {
  kid: string;
  jwks: { keys: JWK[] };
  sign: (payload: Record<string, unknown>, header: { typ: string }) => Promise<string>;
}

export async function loadAssertionKey(file: string, opts: { create: boolean }): Promise<AssertionKey> {
  let pem: string | undefined;
  try {
    pem = await readFile(file, "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw new TenetError("validation_error", `cannot read the proxy's signing key ${file}: ${(err as NodeJS.ErrnoException).code ?? "error"}`);
    if (!opts.create) throw new TenetError("validation_error", `the proxy's signing key ${file} does not exist`);
  }
  if (pem === undefined) {
    pem = generateKeyPairSync("ec", { namedCurve: "P-256" }).privateKey.export({ format: "pem", type: "pkcs8" }).toString();
    await mkdir(dirname(file), { recursive: true, mode: 0o700 });
    // wx: two processes starting at once must not overwrite each other's key.
    await writeFile(file, pem, { mode: 0o600, flag: "wx" }).catch(async (err: NodeJS.ErrnoException) => {
      if (err.code !== "EEXIST") throw err;
      pem = await readFile(file, "utf8");
    });
  }
  let key: KeyObject;
  try {
    key = createPrivateKey(pem);
  } catch {
    throw new TenetError("validation_error", `the proxy's signing key ${file} is not a PEM private key`);
  }
  if (key.asymmetricKeyType !== "ec" || key.asymmetricKeyDetails?.namedCurve !== "prime256v1") throw new TenetError("validation_error", `the proxy's signing key ${file} must be an EC P-256 key (ES256)`);
  const publicJwk = createPublicKey(key).export({ format: "jwk" }) as JWK;
  const kid = await calculateJwkThumbprint(publicJwk);
  return {
    kid,
    jwks: { keys: [{ ...publicJwk, kid, alg: "ES256", use: "sig" }] },
    sign: (payload, header) => signEs256({ ...header, kid }, payload, key),
  };
}
