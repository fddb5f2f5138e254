/**
 * The master key: 32 random bytes that seal Tenet's own secrets at rest (the audit log's signing
 * key first), so that a copy of the database alone — a backup, a replica, a stolen disk image of
 * PostgreSQL — does not give them away.
 *
 * Where it comes from: `TENET_MASTER_KEY` (base64 or base64url of exactly 32 bytes; every replica
 * sharing a database needs the same one), else `<data dir>/master.key`, created on first use with
 * mode 0600 in a 0700 directory (like `admin.token`). The file is only as safe as the data
 * directory: when the database lives there too, prefer the variable or a separate disk.
 *
 * Sealing: AES-256-GCM, a random 96-bit nonce per seal, and associated data naming the purpose
 * (`tenet/audit-signing-key/v1`), so a box sealed for one purpose does not open for another. The
 * AES key is derived from the master key (HKDF-SHA256), never the master key itself, so later
 * uses of the master key (HMACs of audit values, say) get keys of their own.
 */
import { createCipheriv, createDecipheriv, createSecretKey, hkdfSync, type KeyObject, randomBytes } from "node:crypto";
import { link, mkdir, readFile, stat, unlink, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { KeyError } from "./errors.js";

export const MASTER_KEY_ENV = "TENET_MASTER_KEY";
export const MASTER_KEY_FILE = "master.key";
export const MASTER_KEY_BYTES = 32;

/** A sealed secret, as stored (JSON). Binary fields are base64url. */
export interface SealedBox {
  v: 1;
  alg: "A256GCM";
  /** Which master key sealed it (MasterKey.id): a different key is reported as such. */
  kid: string;
  nonce: string;
  ciphertext: string;
  tag: string;
}

const NONCE_BYTES = 12;
const TAG_BYTES = 16;
const B64 = /^[A-Za-z0-9+/]+={0,2}$/;
const B64URL = /^[A-Za-z0-9_-]+={0,2}$/;

export class MasterKey {
  /** A non-secret fingerprint (16 hex digits): tells which master key sealed a box. */
  readonly id: string;
  // Private fields and a KeyObject: neither console.log nor JSON.stringify shows the key.
  readonly #aes: KeyObject;

  private constructor(bytes: Uint8Array) {
    const ikm = Buffer.from(bytes);
    this.#aes = createSecretKey(Buffer.from(hkdfSync("sha256", ikm, Buffer.alloc(0), "tenet/seal/aes-256-gcm/v1", 32)));
    this.id = Buffer.from(hkdfSync("sha256", ikm, Buffer.alloc(0), "tenet/master-key-id/v1", 8)).toString("hex");
    ikm.fill(0);
  }

  /** A master key from its 32 bytes. */
  static fromBytes(bytes: Uint8Array): MasterKey {
    if (!(bytes instanceof Uint8Array) || bytes.length !== MASTER_KEY_BYTES) throw new TypeError(`a master key is ${MASTER_KEY_BYTES} bytes`);
    return new MasterKey(bytes);
  }

  /**
   * A master key from text: base64 or base64url (padding optional) of exactly 32 bytes.
   * `where` names the source in the error (the variable or the file); the value is never echoed.
   */
  static parse(text: string, where: string): MasterKey {
    const bytes = decodeKeyText(text);
    if (bytes === undefined) {
      throw new KeyError("invalid_master_key", `${where} must be ${MASTER_KEY_BYTES} random bytes in base64 or base64url (e.g. \`openssl rand -base64 32\`)`);
    }
    try {
      return new MasterKey(bytes);
    } finally {
      bytes.fill(0);
    }
  }

  /** A new random master key and its text form (base64). */
  static generate(): { key: MasterKey; text: string } {
    const bytes = randomBytes(MASTER_KEY_BYTES);
    const text = bytes.toString("base64");
    const key = new MasterKey(bytes);
    bytes.fill(0);
    return { key, text };
  }

  /** Encrypts `plaintext` for `purpose` (e.g. `tenet/audit-signing-key/v1`). */
  seal(purpose: string, plaintext: Uint8Array): SealedBox {
    checkPurpose(purpose);
    if (!(plaintext instanceof Uint8Array)) throw new TypeError("plaintext must be bytes");
    const nonce = randomBytes(NONCE_BYTES);
    const cipher = createCipheriv("aes-256-gcm", this.#aes, nonce, { authTagLength: TAG_BYTES });
    cipher.setAAD(Buffer.from(purpose, "utf8"));
    const ciphertext = Buffer.concat([cipher.update(plaintext), cipher.final()]);
    return { v: 1, alg: "A256GCM", kid: this.id, nonce: nonce.toString("base64url"), ciphertext: ciphertext.toString("base64url"), tag: cipher.getAuthTag().toString("base64url") };
  }

  /**
   * Decrypts a box sealed for `purpose`. Throws KeyError: "malformed" (not a sealed box),
   * "wrong_master_key" (sealed by another master key), "unseal_failed" (altered, or sealed for
   * another purpose). The caller should zero the returned bytes when done.
   */
  open(purpose: string, box: unknown): Buffer {
    checkPurpose(purpose);
    const b = box as Partial<Record<keyof SealedBox, unknown>> | null;
    if (typeof b !== "object" || b === null) throw new KeyError("malformed", `the secret sealed for ${purpose} is not a sealed box`);
    if (b.v !== 1 || b.alg !== "A256GCM") throw new KeyError("malformed", `the secret sealed for ${purpose} has an unknown format (v ${String(b.v)}, alg ${String(b.alg)}); a newer Tenet may have written it`);
    const nonce = base64url(b.nonce);
    const ciphertext = base64url(b.ciphertext);
    const tag = base64url(b.tag);
    if (typeof b.kid !== "string" || !/^[0-9a-f]{16}$/.test(b.kid) || nonce?.length !== NONCE_BYTES || tag?.length !== TAG_BYTES || ciphertext === undefined) {
      throw new KeyError("malformed", `the secret sealed for ${purpose} is damaged (bad kid, nonce, tag or ciphertext)`);
    }
    if (b.kid !== this.id) {
      throw new KeyError(
        "wrong_master_key",
        `the secret for ${purpose} was sealed with master key ${b.kid}, but this master key is ${this.id}: ${MASTER_KEY_ENV} or ${MASTER_KEY_FILE} changed (replicas sharing a database need the same ${MASTER_KEY_ENV})`,
      );
    }
    const decipher = createDecipheriv("aes-256-gcm", this.#aes, nonce, { authTagLength: TAG_BYTES });
    decipher.setAAD(Buffer.from(purpose, "utf8"));
    decipher.setAuthTag(tag);
    const head = decipher.update(ciphertext);
    try {
      return Buffer.concat([head, decipher.final()]);
    } catch {
      // OpenSSL's error says nothing useful and is not worth a stack: say what it means.
      head.fill(0);
      throw new KeyError("unseal_failed", `the secret sealed for ${purpose} does not open with master key ${this.id}: it was altered, or sealed for another purpose`);
    } finally {
      ciphertext.fill(0);
    }
  }

  toJSON(): { id: string } {
    return { id: this.id };
  }
}

export interface LoadedMasterKey {
  key: MasterKey;
  source: "env" | "file";
  /** The file read or created (source "file"). */
  file?: string;
  /** Whether the file was created now. */
  created: boolean;
  /** Things to tell the operator (e.g. a key file readable by others). */
  warnings: string[];
}

/**
 * The master key from `TENET_MASTER_KEY` (an empty value means unset), else from
 * `<dataDir>/master.key`, created with a new random key if missing. Concurrent first starts
 * agree: the file is written aside and linked into place, and whoever loses reads the winner's.
 */
export async function loadMasterKey(opts: { dataDir: string; env?: Record<string, string | undefined> }): Promise<LoadedMasterKey> {
  const env = opts.env ?? process.env;
  const value = env[MASTER_KEY_ENV];
  if (value !== undefined && value !== "") return { key: MasterKey.parse(value, MASTER_KEY_ENV), source: "env", created: false, warnings: [] };
  if (typeof opts.dataDir !== "string" || opts.dataDir === "") throw new TypeError("dataDir must be a non-empty path");

  const file = join(opts.dataDir, MASTER_KEY_FILE);
  const existing = await readKeyFile(file);
  if (existing !== undefined) return { key: existing, source: "file", file, created: false, warnings: await modeWarnings(file) };

  const { key, text } = MasterKey.generate();
  let created: boolean;
  try {
    await mkdir(opts.dataDir, { recursive: true, mode: 0o700 });
    created = await createExclusive(file, `${text}\n`);
  } catch (err) {
    throw new KeyError("master_key_unavailable", `cannot create ${file} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message}); set ${MASTER_KEY_ENV} or make the data directory writable`, { cause: err });
  }
  if (created) return { key, source: "file", file, created: true, warnings: [] };
  const winner = await readKeyFile(file);
  if (winner === undefined) throw new KeyError("master_key_unavailable", `${file} vanished while it was being created; start again`);
  return { key: winner, source: "file", file, created: false, warnings: await modeWarnings(file) };
}

/** Writes `text` to `file` unless it exists (then false), never exposing a half-written file. */
async function createExclusive(file: string, text: string): Promise<boolean> {
  const tmp = `${file}.${process.pid}.${randomBytes(6).toString("hex")}.tmp`;
  await writeFile(tmp, text, { mode: 0o600, flag: "wx" });
  try {
    await link(tmp, file);
    return true;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === "EEXIST") return false;
    if (code !== "EPERM" && code !== "ENOTSUP" && code !== "EOPNOTSUPP" && code !== "ENOSYS") throw err;
    // A file system without hard links: an exclusive create (a racing reader may see it empty).
    try {
      await writeFile(file, text, { mode: 0o600, flag: "wx" });
      return true;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === "EEXIST") return false;
      throw e;
    }
  } finally {
    await unlink(tmp).catch(() => undefined);
  }
}

async function readKeyFile(file: string): Promise<MasterKey | undefined> {
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === "ENOENT") return undefined;
    throw new KeyError("master_key_unavailable", `cannot read ${file} (${code ?? (err as Error).message}); set ${MASTER_KEY_ENV} or fix the file's permissions`, { cause: err });
  }
  return MasterKey.parse(text, file);
}

async function modeWarnings(file: string): Promise<string[]> {
  if (process.platform === "win32") return [];
  const { mode } = await stat(file);
  if ((mode & 0o077) === 0) return [];
  return [`${file} is readable or writable by others (mode ${(mode & 0o777).toString(8).padStart(4, "0")}): run chmod 600 ${file}`];
}

/** 32 bytes from base64 or base64url text (surrounding whitespace ignored), else undefined. */
function decodeKeyText(text: string): Buffer | undefined {
  if (typeof text !== "string") return undefined;
  const t = text.trim();
  const url = B64URL.test(t);
  if (!url && !B64.test(t)) return undefined;
  const unpadded = t.replace(/=+$/, "");
  const bytes = Buffer.from(unpadded, url ? "base64url" : "base64");
  // Canonical only: a typo in the last character must not go unnoticed.
  if (bytes.length !== MASTER_KEY_BYTES || bytes.toString(url ? "base64url" : "base64").replace(/=+$/, "") !== unpadded) {
    bytes.fill(0);
    return undefined;
  }
  return bytes;
}

function base64url(v: unknown): Buffer | undefined {
  if (typeof v !== "string" || !/^[A-Za-z0-9_-]*$/.test(v)) return undefined;
  return Buffer.from(v, "base64url");
}

function checkPurpose(purpose: string): void {
  if (typeof purpose !== "string" || purpose === "") throw new TypeError("purpose must be a non-empty string");
}
