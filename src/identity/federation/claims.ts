/**
 * Reading an upstream's claims: everything in them is the upstream's input to Tenet, so each
 * value is type-checked and bounded here, and a malformed optional claim is dropped rather than
 * failing the sign-in.
 */
import type { FederationProvider } from "./config.js";

export type Claims = Record<string, unknown>;

const EMAIL = /^[^\s@<>()",;:\\]{1,64}@[A-Za-z0-9.-]{1,253}\.[A-Za-z]{2,63}$/;
/** Bounds what one sign-in can make Tenet compare (Entra caps its groups claim at 200). */
const MAX_CLAIM_VALUES = 1000;

/** Does `s` hold a C0 control character or DEL (line breaks that would forge log lines, NULs)? */
export function hasControl(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x20 || c === 0x7f) return true;
  }
  return false;
}

/** A short, printable string claim, trimmed; undefined otherwise. */
export function text(claims: Claims, name: string, max = 256): string | undefined {
  const v = claims[name];
  if (typeof v !== "string") return undefined;
  const t = v.trim();
  return t.length > 0 && t.length <= max && !hasControl(t) ? t : undefined;
}

/** OIDC Core §2: `sub` is at most 255 ASCII characters, never reassigned by the issuer. */
export function subject(claims: Claims): string | undefined {
  const v = claims.sub;
  return typeof v === "string" && v.length >= 1 && v.length <= 255 && /^[\x20-\x7e]+$/.test(v) ? v : undefined;
}

/**
 * The e-mail address and whether Tenet may rely on it: OIDC Core §5.7 warns that `email` alone
 * is not a stable or verified identifier, so only `email_verified: true` (or a provider
 * configured with `trustEmail`) makes it usable for linking.
 */
export function email(claims: Claims, p: FederationProvider): { address: string | undefined; verified: boolean } {
  const address = text(claims, "email", 320);
  if (address === undefined || !EMAIL.test(address)) return { address: undefined, verified: false };
  return { address, verified: claims.email_verified === true || p.trustEmail };
}

/** The claim's values as strings: a string, a list of strings, or a boolean/number (as text). */
export function values(claims: Claims, name: string): string[] {
  const v = claims[name];
  const list = Array.isArray(v) ? v.slice(0, MAX_CLAIM_VALUES) : v === undefined || v === null ? [] : [v];
  const out: string[] = [];
  for (const x of list) {
    if (typeof x === "string" && x.length <= 512) out.push(x);
    else if (typeof x === "boolean" || (typeof x === "number" && Number.isFinite(x))) out.push(String(x));
  }
  return out;
}

/** RFC 8176 `amr`: a list of short strings. */
export function amr(claims: Claims): string[] | undefined {
  const v = claims.amr;
  if (!Array.isArray(v)) return undefined;
  return v.filter((x): x is string => typeof x === "string" && x.length > 0 && x.length <= 64 && !hasControl(x)).slice(0, 32);
}

/**
 * The Tenet groups the claims map to, and every group the mapping manages (whose membership
 * follows the upstream: joined when mapped, left when no longer mapped).
 */
export function mappedGroups(claims: Claims, p: FederationProvider): { wanted: Set<string>; managed: Set<string> } {
  const wanted = new Set<string>();
  const managed = new Set<string>();
  const cache = new Map<string, string[]>();
  for (const rule of p.groupMapping) {
    managed.add(rule.group);
    let vs = cache.get(rule.claim);
    if (!vs) cache.set(rule.claim, (vs = values(claims, rule.claim)));
    if (vs.some(rule.matches)) wanted.add(rule.group);
  }
  return { wanted, managed };
}
