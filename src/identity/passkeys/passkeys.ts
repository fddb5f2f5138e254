/**
 * Passkeys (WebAuthn Level 3) with @simplewebauthn/server: discoverable credentials, user
 * verification required, so one passkey is a phishing-resistant multi-factor sign-in.
 *
 * Challenges are server-side, single-use and short-lived: each ceremony gets a random handle
 * whose document holds the challenge; the verify step deletes it before checking anything, and
 * only the caller whose delete succeeded may use it, so a replayed response (same challenge) fails
 * even when two arrive at once.
 *
 * Hardware: a credential counts as hardware-backed only when its attestation was verified (not
 * `none`), its AAGUID is on the configured allow-list and it is a single-device credential (not
 * synced). Attestation is requested `direct` for that reason.
 *
 * Failures carry a `kind` (malformed, unknown credential, replay, bad signature, wrong origin,
 * expired) so the caller can record them without letting a stranger's garbage lock the real user
 * out (only an assertion of a known credential with a bad signature counts against the account).
 */
import { randomBytes } from "node:crypto";
import {
  generateAuthenticationOptions,
  generateRegistrationOptions,
  verifyAuthenticationResponse,
  verifyRegistrationResponse,
  type AuthenticationResponseJSON,
  type AuthenticatorTransportFuture,
  type PublicKeyCredentialCreationOptionsJSON,
  type PublicKeyCredentialRequestOptionsJSON,
  type RegistrationResponseJSON,
} from "@simplewebauthn/server";
import { TenetError } from "../../errors.js";
import { DocumentConflict, type DocumentsBackend } from "../../storage/interfaces.js";
import type { IdentityEvents } from "../events.js";

export const PASSKEYS = "identity.passkeys";
const USER_PASSKEYS = "identity.user-passkeys";
const CHALLENGES = "identity.webauthn-challenges";
const CHALLENGE_TTL_MS = 5 * 60_000;

export type PasskeyFailure = "malformed" | "unknown_credential" | "replay" | "bad_signature" | "wrong_origin" | "expired" | "user_mismatch" | "counter";

export class PasskeyError extends TenetError {
  constructor(
    readonly kind: PasskeyFailure,
    message: string,
  ) {
    super(kind === "unknown_credential" || kind === "bad_signature" || kind === "counter" ? "unauthenticated" : "validation_error", message);
  }
}

export interface Passkey {
  /** The credential id, base64url. */
  id: string;
  userId: string;
  name: string;
  publicKey: string;
  counter: number;
  transports: AuthenticatorTransportFuture[];
  aaguid: string;
  attestationFormat: string;
  deviceType: "singleDevice" | "multiDevice";
  backedUp: boolean;
  hardware: boolean;
  createdAt: string;
  lastUsedAt?: string | undefined;
}

export interface PasskeyOptions {
  documents: DocumentsBackend;
  rpId: string;
  rpName: string;
  /** Origins allowed in clientDataJSON (e.g. https://id.example.com). */
  origins: string[];
  /** AAGUIDs (lower-case, dashed) of hardware authenticators. */
  hardwareAaguids?: string[];
  events?: IdentityEvents | undefined;
  now?: () => number;
}

interface Challenge {
  challenge: string;
  purpose: "register" | "authenticate";
  userId?: string | undefined;
  expiresAt: number;
}

export interface VerifiedAssertion {
  userId: string;
  passkey: Passkey;
}

const B64URL = /^[A-Za-z0-9_-]{1,1400}$/;

export class Passkeys {
  private readonly docs: DocumentsBackend;
  private readonly now: () => number;
  private readonly hardware: Set<string>;

  constructor(private readonly o: PasskeyOptions) {
    this.docs = o.documents;
    this.now = o.now ?? Date.now;
    this.hardware = new Set((o.hardwareAaguids ?? []).map((a) => a.toLowerCase()));
  }

  async registrationOptions(user: { id: string; username: string; displayName?: string | undefined }): Promise<{ handle: string; options: PublicKeyCredentialCreationOptionsJSON }> {
    const existing = await this.list(user.id);
    const options = await generateRegistrationOptions({
      rpName: this.o.rpName,
      rpID: this.o.rpId,
      userName: user.username,
      userDisplayName: user.displayName ?? user.username,
      // The WebAuthn user handle: Tenet's user id (not personal data beyond what the RP sees).
      userID: new TextEncoder().encode(user.id),
      attestationType: "direct",
      excludeCredentials: existing.map((p) => ({ id: p.id, transports: p.transports })),
      authenticatorSelection: { residentKey: "required", userVerification: "required" },
      supportedAlgorithmIDs: [-7, -8, -257],
    });
    const handle = await this.saveChallenge({ challenge: options.challenge, purpose: "register", userId: user.id, expiresAt: this.now() + CHALLENGE_TTL_MS });
    return { handle, options };
  }

  async verifyRegistration(handle: string, userId: string, response: unknown, name?: string): Promise<Passkey> {
    const ch = await this.takeChallenge(handle, "register");
    if (ch.userId !== userId) throw new PasskeyError("user_mismatch", "this registration was started for another account");
    const r = asRegistration(response);
    let verified: Awaited<ReturnType<typeof verifyRegistrationResponse>>;
    try {
      verified = await verifyRegistrationResponse({ response: r, expectedChallenge: ch.challenge, expectedOrigin: this.o.origins, expectedRPID: this.o.rpId, requireUserVerification: true });
    } catch (err) {
      throw classify(err);
    }
    if (!verified.verified) throw new PasskeyError("bad_signature", "the passkey registration did not verify");
    const info = verified.registrationInfo;
    const aaguid = info.aaguid.toLowerCase();
    const passkey: Passkey = {
      id: info.credential.id,
      userId,
      name: (name ?? "").trim().slice(0, 64) || `Passkey ${new Date(this.now()).toISOString().slice(0, 10)}`,
      publicKey: Buffer.from(info.credential.publicKey).toString("base64url"),
      counter: info.credential.counter,
      transports: info.credential.transports ?? r.response.transports ?? [],
      aaguid,
      attestationFormat: info.fmt,
      deviceType: info.credentialDeviceType,
      backedUp: info.credentialBackedUp,
      hardware: info.fmt !== "none" && this.hardware.has(aaguid) && info.credentialDeviceType === "singleDevice",
      createdAt: new Date(this.now()).toISOString(),
    };
    try {
      await this.docs.putDocument(PASSKEYS, passkey.id, passkey, 0);
    } catch (err) {
      if (err instanceof DocumentConflict) throw new PasskeyError("replay", "this passkey is already registered");
      throw err;
    }
    await this.docs.putDocument(USER_PASSKEYS, `${userId}/${passkey.id}`, { id: passkey.id }, 0).catch(() => undefined);
    await this.o.events?.emit({ type: "credential.added", userId, credential: "passkey", credentialId: passkey.id });
    return passkey;
  }

  /**
   * Options for a sign-in: any discoverable passkey (no user named), or — for a step-up to a
   * level only some of a user's passkeys reach — exactly those.
   */
  async authenticationOptions(opts: { userId?: string | undefined; hardwareOnly?: boolean } = {}): Promise<{ handle: string; options: PublicKeyCredentialRequestOptionsJSON }> {
    let allow: Passkey[] = [];
    if (opts.userId) {
      allow = (await this.list(opts.userId)).filter((p) => !opts.hardwareOnly || p.hardware);
      if (allow.length === 0) throw new TenetError("not_found", opts.hardwareOnly ? "no hardware security key is registered for this account" : "no passkey is registered for this account");
    }
    const options = await generateAuthenticationOptions({
      rpID: this.o.rpId,
      userVerification: "required",
      ...(allow.length > 0 ? { allowCredentials: allow.map((p) => ({ id: p.id, transports: p.transports })) } : {}),
    });
    const handle = await this.saveChallenge({ challenge: options.challenge, purpose: "authenticate", userId: opts.userId, expiresAt: this.now() + CHALLENGE_TTL_MS });
    return { handle, options };
  }

  async verifyAuthentication(handle: string, response: unknown): Promise<VerifiedAssertion> {
    const ch = await this.takeChallenge(handle, "authenticate");
    const r = asAssertion(response);
    const rec = await this.docs.getDocument<Passkey>(PASSKEYS, r.id);
    if (!rec) throw new PasskeyError("unknown_credential", "this passkey is not registered");
    const pk = rec.body;
    if (ch.userId !== undefined && pk.userId !== ch.userId) throw new PasskeyError("user_mismatch", "this passkey belongs to another account");
    // The user handle, when the authenticator returns one, must name the credential's owner.
    if (r.response.userHandle && Buffer.from(r.response.userHandle, "base64url").toString("utf8") !== pk.userId) {
      throw new PasskeyError("user_mismatch", "the passkey's user handle does not match its owner");
    }
    let verified: Awaited<ReturnType<typeof verifyAuthenticationResponse>>;
    try {
      verified = await verifyAuthenticationResponse({
        response: r,
        expectedChallenge: ch.challenge,
        expectedOrigin: this.o.origins,
        expectedRPID: this.o.rpId,
        credential: { id: pk.id, publicKey: Buffer.from(pk.publicKey, "base64url"), counter: pk.counter, transports: pk.transports },
        requireUserVerification: true,
      });
    } catch (err) {
      throw classify(err);
    }
    if (!verified.verified) throw new PasskeyError("bad_signature", "the passkey signature did not verify");
    const next: Passkey = { ...pk, counter: verified.authenticationInfo.newCounter, backedUp: verified.authenticationInfo.credentialBackedUp, lastUsedAt: new Date(this.now()).toISOString() };
    try {
      await this.docs.putDocument(PASSKEYS, pk.id, next, rec.version);
    } catch (err) {
      // A concurrent use of the same credential: with a counter, one of the two is a clone.
      if (err instanceof DocumentConflict && pk.counter > 0) throw new PasskeyError("counter", "the passkey was used twice at once");
      if (!(err instanceof DocumentConflict)) throw err;
    }
    return { userId: pk.userId, passkey: next };
  }

  async list(userId: string): Promise<Passkey[]> {
    const refs = await this.docs.listDocuments<{ id: string }>(USER_PASSKEYS, { prefix: `${userId}/`, limit: 100 });
    const out: Passkey[] = [];
    for (const r of refs) {
      const p = await this.docs.getDocument<Passkey>(PASSKEYS, r.body.id);
      if (p && p.body.userId === userId) out.push(p.body);
    }
    return out;
  }

  async get(credentialId: string): Promise<Passkey | undefined> {
    if (!B64URL.test(credentialId)) return undefined;
    return (await this.docs.getDocument<Passkey>(PASSKEYS, credentialId))?.body;
  }

  async remove(userId: string, credentialId: string): Promise<boolean> {
    const p = await this.get(credentialId);
    if (!p || p.userId !== userId) return false;
    await this.docs.deleteDocument(PASSKEYS, credentialId);
    await this.docs.deleteDocument(USER_PASSKEYS, `${userId}/${credentialId}`);
    await this.o.events?.emit({ type: "credential.removed", userId, credential: "passkey", credentialId });
    return true;
  }

  async rename(userId: string, credentialId: string, name: string): Promise<Passkey> {
    const r = B64URL.test(credentialId) ? await this.docs.getDocument<Passkey>(PASSKEYS, credentialId) : undefined;
    if (!r || r.body.userId !== userId) throw new TenetError("not_found", "no such passkey");
    const n = name.trim();
    if (n.length === 0 || n.length > 64) throw new TenetError("validation_error", "a passkey name is 1–64 characters");
    const next = { ...r.body, name: n };
    await this.docs.putDocument(PASSKEYS, credentialId, next, r.version);
    return next;
  }

  private async saveChallenge(c: Challenge): Promise<string> {
    const handle = randomBytes(18).toString("base64url");
    await this.docs.putDocument(CHALLENGES, handle, c, 0);
    return handle;
  }

  /** Deletes the challenge before use: only the caller whose delete succeeded may use it. */
  private async takeChallenge(handle: unknown, purpose: Challenge["purpose"]): Promise<Challenge> {
    if (typeof handle !== "string" || !/^[A-Za-z0-9_-]{24}$/.test(handle)) throw new PasskeyError("malformed", "missing or malformed ceremony handle");
    const r = await this.docs.getDocument<Challenge>(CHALLENGES, handle);
    if (!r || !(await this.docs.deleteDocument(CHALLENGES, handle))) throw new PasskeyError("replay", "this sign-in attempt was already used or never existed; start again");
    if (r.body.purpose !== purpose) throw new PasskeyError("malformed", "wrong ceremony");
    if (r.body.expiresAt <= this.now()) throw new PasskeyError("expired", "this sign-in attempt expired; start again");
    return r.body;
  }

  /** Deletes expired challenges (abandoned ceremonies). */
  async sweep(): Promise<number> {
    let n = 0;
    let after: string | undefined;
    for (;;) {
      const rows = await this.docs.listDocuments<Challenge>(CHALLENGES, { ...(after ? { after } : {}), limit: 500 });
      if (rows.length === 0) return n;
      for (const r of rows) if (r.body.expiresAt <= this.now() && (await this.docs.deleteDocument(CHALLENGES, r.id))) n++;
      after = rows[rows.length - 1]!.id;
    }
  }
}

/** Shape checks before the library sees the input (it assumes well-formed JSON). */
function asRegistration(v: unknown): RegistrationResponseJSON {
  const r = v as RegistrationResponseJSON;
  if (typeof r !== "object" || r === null || typeof r.id !== "string" || !B64URL.test(r.id) || r.rawId !== r.id || r.type !== "public-key" || typeof r.response !== "object" || r.response === null || typeof r.response.clientDataJSON !== "string" || typeof r.response.attestationObject !== "string") {
    throw new PasskeyError("malformed", "malformed passkey registration response");
  }
  if (r.response.transports !== undefined && !Array.isArray(r.response.transports)) throw new PasskeyError("malformed", "malformed transports");
  return r;
}

function asAssertion(v: unknown): AuthenticationResponseJSON {
  const r = v as AuthenticationResponseJSON;
  if (typeof r !== "object" || r === null || typeof r.id !== "string" || !B64URL.test(r.id) || r.rawId !== r.id || r.type !== "public-key" || typeof r.response !== "object" || r.response === null) {
    throw new PasskeyError("malformed", "malformed passkey response");
  }
  for (const k of ["clientDataJSON", "authenticatorData", "signature"] as const) {
    if (typeof r.response[k] !== "string" || !/^[A-Za-z0-9_=-]*$/.test(r.response[k])) throw new PasskeyError("malformed", `malformed passkey response (${k})`);
  }
  if (r.response.userHandle !== undefined && (typeof r.response.userHandle !== "string" || !/^[A-Za-z0-9_-]*$/.test(r.response.userHandle))) throw new PasskeyError("malformed", "malformed user handle");
  return r;
}

/** The library's errors, by what went wrong. */
function classify(err: unknown): PasskeyError {
  const msg = err instanceof Error ? err.message : String(err);
  if (/origin/i.test(msg)) return new PasskeyError("wrong_origin", `the passkey was used on another site (${msg})`);
  if (/challenge/i.test(msg)) return new PasskeyError("replay", "the passkey response answers another challenge");
  if (/signature/i.test(msg)) return new PasskeyError("bad_signature", "the passkey signature did not verify");
  if (/counter/i.test(msg)) return new PasskeyError("counter", "the passkey's counter went backwards (a cloned authenticator?)");
  return new PasskeyError("malformed", `the passkey response is invalid: ${msg.slice(0, 200)}`);
}
