/**
 * API keys for Tenet's own API. A key is `tenet_<id>_<secret>`: the id finds the record, the
 * secret (256 random bits) is stored only as its SHA-256 and compared in constant time. A fast
 * hash is right here because the secret is random, not a password.
 */
import { createHash, randomBytes, timingSafeEqual } from "node:crypto";

export const SCOPES = ["check", "read", "write", "admin"] as const;
export type Scope = (typeof SCOPES)[number];

export interface ApiKeyRecord {
  id: string;
  name: string;
  /** hex SHA-256 of the secret part. */
  secretHash: string;
  scopes: Scope[];
  /** Store ids the key may use, or ["*"] for every store. */
  stores: string[];
  createdAt: string;
  revokedAt?: string | undefined;
  /** Requests per second allowed for this key (token bucket); 0 = unlimited. */
  rateLimit: number;
}

export interface ApiKeysBackend {
  createApiKey(rec: ApiKeyRecord): Promise<void>;
  getApiKey(id: string): Promise<ApiKeyRecord | undefined>;
  listApiKeys(): Promise<ApiKeyRecord[]>;
  revokeApiKey(id: string, at: string): Promise<boolean>;
}

const KEY_PATTERN = /^tenet_([0-9a-f]{16})_([A-Za-z0-9_-]{43})$/;

export function hashSecret(secret: string): string {
  return createHash("sha256").update(secret, "utf8").digest("hex");
}

/** Creates a new key: returns the token (shown once) and the record to store. */
export function newApiKey(opts: { name: string; scopes: Scope[]; stores: string[]; rateLimit?: number }): { token: string; record: ApiKeyRecord } {
  const id = randomBytes(8).toString("hex");
  const secret = randomBytes(32).toString("base64url");
  return {
    token: `tenet_${id}_${secret}`,
    record: {
      id,
      name: opts.name,
      secretHash: hashSecret(secret),
      scopes: opts.scopes,
      stores: opts.stores,
      createdAt: new Date().toISOString(),
      rateLimit: opts.rateLimit ?? 0,
    },
  };
}

/** Derives the record for an operator-chosen token (TENET_ADMIN_TOKEN); id from its hash. */
export function recordForToken(token: string, opts: { name: string; scopes: Scope[]; stores: string[] }): { id: string; record: ApiKeyRecord } | undefined {
  const m = KEY_PATTERN.exec(token);
  if (!m) return undefined;
  return {
    id: m[1]!,
    record: { id: m[1]!, name: opts.name, secretHash: hashSecret(m[2]!), scopes: opts.scopes, stores: opts.stores, createdAt: new Date().toISOString(), rateLimit: 0 },
  };
}

export function parseApiKey(token: string): { id: string; secret: string } | undefined {
  const m = KEY_PATTERN.exec(token);
  return m ? { id: m[1]!, secret: m[2]! } : undefined;
}

/** Constant-time comparison of a presented secret with a stored hash. */
export function secretMatches(secret: string, secretHash: string): boolean {
  const a = Buffer.from(hashSecret(secret), "hex");
  const b = Buffer.from(secretHash, "hex");
  return a.length === b.length && timingSafeEqual(a, b);
}
