/**
 * A software FIDO2 authenticator for protocol tests: makes ES256 passkeys and signs assertions
 * exactly as WebAuthn Level 3 lays out the bytes (authenticator data, COSE key, attestation
 * object in CBOR with `fmt: "none"`). It is the peer of the thing under test (Tenet's relying
 * party), not a stand-in for it; the browser tests use Chromium's own virtual authenticator.
 */
import { createHash, createSign, generateKeyPairSync, randomBytes, type KeyObject } from "node:crypto";

const b64u = (b: Uint8Array | Buffer) => Buffer.from(b).toString("base64url");

/** Minimal CBOR encoder (maps, byte/text strings, small ints, negative ints). */
function cbor(v: unknown): Buffer {
  const head = (major: number, n: number): Buffer => {
    if (n < 24) return Buffer.from([(major << 5) | n]);
    if (n < 256) return Buffer.from([(major << 5) | 24, n]);
    if (n < 65536) return Buffer.from([(major << 5) | 25, n >> 8, n & 255]);
    const b = Buffer.alloc(5);
    b[0] = (major << 5) | 26;
    b.writeUInt32BE(n, 1);
    return b;
  };
  if (typeof v === "number") return v >= 0 ? head(0, v) : head(1, -1 - v);
  if (typeof v === "string") return Buffer.concat([head(3, Buffer.byteLength(v)), Buffer.from(v)]);
  if (v instanceof Uint8Array) return Buffer.concat([head(2, v.length), Buffer.from(v)]);
  if (v instanceof Map) return Buffer.concat([head(5, v.size), ...[...v].flatMap(([k, x]) => [cbor(k), cbor(x)])]);
  if (typeof v === "object" && v !== null) return cbor(new Map(Object.entries(v)));
  throw new Error(`cbor: cannot encode ${typeof v}`);
}

export interface SoftCredential {
  id: Buffer;
  key: KeyObject;
  userHandle: Buffer;
  rpId: string;
  counter: number;
}

export class SoftAuthenticator {
  readonly credentials: SoftCredential[] = [];
  constructor(readonly aaguid: Buffer = Buffer.alloc(16)) {}

  private authData(rpId: string, flags: number, counter: number, attested?: Buffer): Buffer {
    const c = Buffer.alloc(4);
    c.writeUInt32BE(counter);
    return Buffer.concat([createHash("sha256").update(rpId).digest(), Buffer.from([flags]), c, attested ?? Buffer.alloc(0)]);
  }

  /** navigator.credentials.create(), as JSON (RegistrationResponseJSON). */
  create(options: { challenge: string; rp: { id?: string; name: string }; user: { id: string } }, origin: string, opts: { uv?: boolean } = {}) {
    const rpId = options.rp.id ?? new URL(origin).hostname;
    const { privateKey, publicKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
    const jwk = publicKey.export({ format: "jwk" });
    const cose = cbor(new Map<number, unknown>([[1, 2], [3, -7], [-1, 1], [-2, Buffer.from(jwk.x!, "base64url")], [-3, Buffer.from(jwk.y!, "base64url")]]));
    const id = randomBytes(32);
    const idLen = Buffer.from([0, id.length]);
    const attested = Buffer.concat([this.aaguid, idLen, id, cose]);
    // UP (0x01), UV (0x04), AT (0x40)
    const flags = 0x01 | (opts.uv === false ? 0 : 0x04) | 0x40;
    const authData = this.authData(rpId, flags, 0, attested);
    const clientDataJSON = Buffer.from(JSON.stringify({ type: "webauthn.create", challenge: options.challenge, origin, crossOrigin: false }));
    const attestationObject = cbor(new Map<string, unknown>([["fmt", "none"], ["attStmt", new Map()], ["authData", authData]]));
    const cred: SoftCredential = { id, key: privateKey, userHandle: Buffer.from(options.user.id, "base64url"), rpId, counter: 0 };
    this.credentials.push(cred);
    return { id: b64u(id), rawId: b64u(id), type: "public-key", clientExtensionResults: {}, response: { clientDataJSON: b64u(clientDataJSON), attestationObject: b64u(attestationObject), transports: ["internal"] } };
  }

  /** navigator.credentials.get(), as JSON (AuthenticationResponseJSON). */
  get(options: { challenge: string; rpId?: string; allowCredentials?: Array<{ id: string }> }, origin: string, opts: { uv?: boolean; credential?: SoftCredential; tamper?: boolean } = {}) {
    const allowed = options.allowCredentials?.map((c) => c.id);
    const cred = opts.credential ?? this.credentials.find((c) => !allowed || allowed.length === 0 || allowed.includes(b64u(c.id)));
    if (!cred) throw new Error("no credential for this request");
    cred.counter++;
    const authData = this.authData(options.rpId ?? cred.rpId, 0x01 | (opts.uv === false ? 0 : 0x04), cred.counter);
    const clientDataJSON = Buffer.from(JSON.stringify({ type: "webauthn.get", challenge: options.challenge, origin, crossOrigin: false }));
    const signer = createSign("sha256");
    signer.update(Buffer.concat([authData, createHash("sha256").update(clientDataJSON).digest()]));
    let signature = signer.sign(cred.key);
    if (opts.tamper) signature = Buffer.from(signature.map((b, i) => (i === signature.length - 1 ? b ^ 1 : b)));
    return {
      id: b64u(cred.id),
      rawId: b64u(cred.id),
      type: "public-key",
      clientExtensionResults: {},
      response: { clientDataJSON: b64u(clientDataJSON), authenticatorData: b64u(authData), signature: b64u(signature), userHandle: b64u(cred.userHandle) },
    };
  }
}
