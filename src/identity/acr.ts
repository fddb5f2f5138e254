/**
 * Authentication assurance: the `acr` values Tenet issues and accepts, ordered, and the RFC 8176
 * `amr` values that produce them. The URIs are the OpenID PAPE policy URIs that relying parties
 * (and Okta, Entra, Auth0) already understand:
 *
 *   level 0  `0`                                     (OIDC Core 2: not even ISO 29115 level 1;
 *                                                     a recovery code or an untrusted upstream)
 *   level 1  ...pape/policies/2007/06/multi-factor        two factors (e.g. upstream + TOTP)
 *   level 2  ...pape/policies/2007/06/phishing-resistant  a passkey with user verification
 *   level 3  ...pape/policies/2007/06/multi-factor-physical
 *                                                     a passkey on a hardware authenticator
 *                                                     whose attested AAGUID is allow-listed
 *
 * A higher level satisfies every request for a lower one (`satisfies`).
 */

export const ACR = {
  none: "0",
  mfa: "http://schemas.openid.net/pape/policies/2007/06/multi-factor",
  phishingResistant: "http://schemas.openid.net/pape/policies/2007/06/phishing-resistant",
  hardware: "http://schemas.openid.net/pape/policies/2007/06/multi-factor-physical",
} as const;

export type AcrValue = (typeof ACR)[keyof typeof ACR];

/** Short names accepted wherever an acr is configured (policies' `challenge.acr`, routes). */
// A Map, not an object literal: an outside value such as "constructor" must find nothing.
const ALIASES = new Map<string, AcrValue>([
  ["0", ACR.none],
  ["none", ACR.none],
  ["mfa", ACR.mfa],
  ["phishing-resistant", ACR.phishingResistant],
  ["phr", ACR.phishingResistant],
  ["hardware", ACR.hardware],
  ["phrh", ACR.hardware],
  ["phishing_resistant", ACR.phishingResistant],
  // The names access policies used before the identity provider existed.
  ["urn:tenet:acr:mfa", ACR.mfa],
  ["urn:tenet:acr:phishing-resistant", ACR.phishingResistant],
  ["urn:tenet:acr:hardware", ACR.hardware],
]);

const LEVEL = new Map<string, number>([
  [ACR.none, 0],
  [ACR.mfa, 1],
  [ACR.phishingResistant, 2],
  [ACR.hardware, 3],
]);

export const ACR_VALUES_SUPPORTED: AcrValue[] = [ACR.none, ACR.mfa, ACR.phishingResistant, ACR.hardware];

/** The acr URI for a URI or short name; undefined for a value Tenet does not know. */
export function normaliseAcr(value: unknown): AcrValue | undefined {
  if (typeof value !== "string") return undefined;
  if (LEVEL.has(value)) return value as AcrValue;
  return ALIASES.get(value.toLowerCase());
}

/** 0–3; -1 for an unknown value (which satisfies nothing). */
export function acrLevel(value: string | undefined): number {
  if (value === undefined) return -1;
  const v = normaliseAcr(value);
  return v === undefined ? -1 : LEVEL.get(v)!;
}

/** Does an authentication at `have` meet a request for `want`? */
export function satisfies(have: string | undefined, want: string): boolean {
  const w = acrLevel(want);
  return w >= 0 && acrLevel(have) >= w;
}

/** The factors a sign-in used, as they decide its level. */
export interface Factors {
  /** A passkey with user verification; `hardware` when its attested AAGUID is allow-listed. */
  passkey?: { hardware: boolean } | undefined;
  totp?: boolean | undefined;
  recoveryCode?: boolean | undefined;
  /** An upstream IdP's sign-in; its own acr/amr only when that IdP is trusted for them. */
  upstream?: { acr?: string | undefined; amr?: string[] | undefined; trusted: boolean } | undefined;
}

/** RFC 8176 `amr` values and the acr for a set of factors. */
export function assurance(f: Factors): { acr: AcrValue; amr: string[] } {
  const amr = new Set<string>();
  let factors = 0;
  let acr: AcrValue = ACR.none;
  if (f.passkey) {
    // A passkey with user verification is two factors in one: the key and the PIN or biometric.
    amr.add(f.passkey.hardware ? "hwk" : "swk").add("user").add("mfa");
    factors += 2;
    acr = f.passkey.hardware ? ACR.hardware : ACR.phishingResistant;
  }
  if (f.upstream) {
    factors++;
    if (f.upstream.trusted) {
      for (const a of f.upstream.amr ?? []) amr.add(a);
      const up = f.upstream.acr !== undefined ? normaliseAcr(f.upstream.acr) : undefined;
      if (up !== undefined && acrLevel(up) > acrLevel(acr)) acr = up;
      if ((f.upstream.amr ?? []).includes("mfa")) factors++;
    }
  }
  if (f.recoveryCode) {
    amr.add("otp");
    factors++;
  }
  if (f.totp) {
    amr.add("otp");
    factors++;
  }
  if (factors >= 2) {
    amr.add("mfa");
    if (acrLevel(acr) < 1) acr = ACR.mfa;
  }
  return { acr, amr: [...amr].sort() };
}
