/**
 * The identity provider's signing keys (ID tokens, JWT access tokens, logout tokens, security event
 * tokens), stored as documents with the private key sealed by the master key, so a copy of the
 * database alone does not let anyone mint tokens.
 *
 * Rotation without a flag day: a key is `next` (published in the JWKS, not yet signing), then
 * `current` (signing), then `retired` (published so tokens it signed still verify, until they
 * have all expired), then deleted. `rotate()` moves every key one step and makes a new `next`; a
 * relying party that caches the JWKS has therefore seen a key before anything is signed with it.
 * One key per algorithm family: ES256 (the default for Tenet's clients) and RS256 (which OIDC
 * Core requires every provider to support).
 */
import { createPrivateKey, generateKeyPair, type KeyObject, randomUUID } from "node:crypto";
import { promisify } from "node:util";
import { type JWTPayload, SignJWT } from "jose";
import { signEs256 } from "../../crypto/compact-jws.js";
import type { MasterKey, SealedBox } from "../../crypto/master-key.js";
import { DocumentConflict, type DocumentsBackend } from "../../storage/interfaces.js";

export const SIGNING_KEYS = "identity.signing-keys";
const PURPOSE = "tenet/oidc-signing-key/v1";
/** Retired keys stay published this long (longer than any token they signed lives). */
export const RETIRED_KEEP_MS = 7 * 24 * 3600_000;

export type KeyState = "next" | "current" | "retired";
export type KeyAlg = "ES256" | "RS256";

interface StoredKey {
  kid: string;
  alg: KeyAlg;
  state: KeyState;
  publicJwk: Record<string, unknown>;
  sealed: SealedBox;
  createdAt: string;
  retiredAt?: string | undefined;
}

export interface PublicKeyInfo {
  kid: string;
  alg: KeyAlg;
  state: KeyState;
  createdAt: string;
  retiredAt?: string | undefined;
}

const generate = promisify(generateKeyPair);

/** A new key (generated on the thread pool: RSA takes a while, and keys are made in parallel). */
async function newKey(alg: KeyAlg, state: KeyState, master: MasterKey): Promise<StoredKey> {
  const kid = randomUUID();
  const { publicKey, privateKey } = alg === "ES256" ? await generate("ec", { namedCurve: "P-256" }) : await generate("rsa", { modulusLength: 2048 });
  const jwk = privateKey.export({ format: "jwk" });
  const sealed = master.seal(PURPOSE, Buffer.from(JSON.stringify(jwk)));
  return { kid, alg, state, publicJwk: { ...publicKey.export({ format: "jwk" }), kid, alg, use: "sig" }, sealed, createdAt: new Date().toISOString() };
}

export class SigningKeys {
  constructor(
    private readonly docs: DocumentsBackend,
    private readonly master: MasterKey,
    private readonly now: () => number = Date.now,
  ) {}

  /** Makes the first keys when there are none (replicas racing: one wins, the others read its keys). */
  async ensure(): Promise<void> {
    const keys = await this.list();
    const missing: Array<[KeyAlg, KeyState]> = [];
    for (const alg of ["ES256", "RS256"] as const) {
      for (const state of ["current", "next"] as const) if (!keys.some((k) => k.alg === alg && k.state === state)) missing.push([alg, state]);
    }
    const made = await Promise.all(missing.map(([alg, state]) => newKey(alg, state, this.master)));
    for (const k of made) await this.put(k, 0);
  }

  async list(): Promise<PublicKeyInfo[]> {
    const rows = await this.docs.listDocuments<StoredKey>(SIGNING_KEYS, { limit: 1000 });
    return rows.map(({ body: { kid, alg, state, createdAt, retiredAt } }) => ({ kid, alg, state, createdAt, retiredAt }));
  }

  /** The public JWKS (every key: next, current and retired), as `<issuer>/jwks` publishes it. */
  async publicJwks(): Promise<{ keys: Array<Record<string, unknown>> }> {
    const rows = await this.docs.listDocuments<StoredKey>(SIGNING_KEYS, { limit: 1000 });
    return { keys: rows.map((r) => r.body.publicJwk) };
  }

  /**
   * The JWKS with private keys for the provider: current keys first (the library signs with the
   * first key of an algorithm), then next and retired ones (published, verifying only).
   */
  async privateJwks(): Promise<{ keys: Array<Record<string, unknown>> }> {
    const rows = await this.docs.listDocuments<StoredKey>(SIGNING_KEYS, { limit: 1000 });
    const order: Record<KeyState, number> = { current: 0, next: 1, retired: 2 };
    const cutoff = this.now() - RETIRED_KEEP_MS;
    const keys = rows
      .map((r) => r.body)
      .filter((k) => k.state !== "retired" || Date.parse(k.retiredAt ?? k.createdAt) > cutoff)
      .sort((a, b) => order[a.state] - order[b.state] || b.createdAt.localeCompare(a.createdAt))
      .map((k) => {
        const jwk = JSON.parse(this.master.open(PURPOSE, k.sealed).toString("utf8")) as Record<string, unknown>;
        return { ...jwk, kid: k.kid, alg: k.alg, use: "sig" };
      });
    return { keys };
  }

  /**
   * Signs JWTs (security event tokens, identity assertions) with the current ES256 key, its `kid`
   * in the header so receivers find it in the JWKS. Reads the key on every call: after a rotation
   * the new current key signs.
   */
  async sign(payload: JWTPayload, header: { typ: string }): Promise<string> {
    const rows = await this.docs.listDocuments<StoredKey>(SIGNING_KEYS, { limit: 1000 });
    const k = rows.map((r) => r.body).filter((b) => b.alg === "ES256" && b.state === "current").sort((a, b) => b.createdAt.localeCompare(a.createdAt))[0];
    if (!k) throw new Error("no current ES256 signing key");
    const key = createPrivateKey({ key: JSON.parse(this.master.open(PURPOSE, k.sealed).toString("utf8")), format: "jwk" });
    return new SignJWT(payload).setProtectedHeader({ ...header, alg: "ES256", kid: k.kid }).sign(key);
  }

  /**
   * A signer for hot paths (an identity assertion per proxied request, security event tokens):
   * like `sign`, but keeps the current ES256 key imported in memory. Importing a key costs more
   * than the signature itself — OpenSSL precomputes per key object, and jose caches its
   * conversions per key object — so `sign` spends ~700 µs where this spends ~130 µs. The JWS is
   * built directly on Node's crypto (compact-jws.ts), not by jose.
   *
   * Rotation: the stored keys are re-read at most every `refreshMs` (default 5 s; one read), and
   * at once after `invalidate()` (IdentityPlane.rotateKeys calls it). Signing with the key that was
   * current a few seconds ago is harmless: a retired key stays in the JWKS for RETIRED_KEEP_MS.
   */
  signer(opts: { refreshMs?: number } = {}): { sign: (payload: JWTPayload, header: { typ: string }) => Promise<string>; invalidate: () => void } {
    const refreshMs = opts.refreshMs ?? 5_000;
    let cached: { kid: string; key: KeyObject; readAt: number } | undefined;
    let loading: Promise<{ kid: string; key: KeyObject; readAt: number }> | undefined;
    const load = async () => {
      const rows = await this.docs.listDocuments<StoredKey>(SIGNING_KEYS, { limit: 1000 });
      const k = rows.map((r) => r.body).filter((b) => b.alg === "ES256" && b.state === "current").sort((a, b) => b.createdAt.localeCompare(a.createdAt))[0];
      if (!k) throw new Error("no current ES256 signing key");
      // Same kid: keep the imported key (and its precomputation).
      if (cached?.kid === k.kid) return { ...cached, readAt: this.now() };
      const key = createPrivateKey({ key: JSON.parse(this.master.open(PURPOSE, k.sealed).toString("utf8")), format: "jwk" });
      return { kid: k.kid, key, readAt: this.now() };
    };
    return {
      sign: async (payload, header) => {
        if (!cached || this.now() - cached.readAt >= refreshMs) {
          // One read for all concurrent callers.
          loading ??= load().finally(() => {
            loading = undefined;
          });
          cached = await loading;
        }
        return signEs256({ ...header, kid: cached.kid }, payload, cached.key);
      },
      invalidate: () => {
        cached = undefined;
      },
    };
  }

  /** next → current → retired → (after RETIRED_KEEP_MS) deleted; a new next per algorithm. */
  async rotate(): Promise<PublicKeyInfo[]> {
    await this.ensure();
    const rows = await this.docs.listDocuments<StoredKey>(SIGNING_KEYS, { limit: 1000 });
    const at = new Date(this.now()).toISOString();
    for (const r of rows) {
      const k = r.body;
      if (k.state === "retired") {
        if (Date.parse(k.retiredAt ?? k.createdAt) <= this.now() - RETIRED_KEEP_MS) await this.docs.deleteDocument(SIGNING_KEYS, k.kid);
        continue;
      }
      const next: StoredKey = k.state === "current" ? { ...k, state: "retired", retiredAt: at } : { ...k, state: "current" };
      await this.put(next, r.version);
    }
    for (const k of await Promise.all((["ES256", "RS256"] as const).map((alg) => newKey(alg, "next", this.master)))) await this.put(k, 0);
    return this.list();
  }

  private async put(k: StoredKey, version: number): Promise<void> {
    try {
      await this.docs.putDocument(SIGNING_KEYS, k.kid, k, version);
    } catch (err) {
      if (!(err instanceof DocumentConflict)) throw err;
    }
  }
}
