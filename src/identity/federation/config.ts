/**
 * Upstream OpenID Connect providers that people may "sign in with", from the access configuration
 * (`identity.federation` in the YAML file), validated once at start:
 *
 *   identity:
 *     federation:
 *       providers:
 *         - id: okta                          # slug: in URLs and link ids
 *           name: Okta                        # the button's label
 *           issuer: https://example.okta.com  # OIDC Discovery 1.0 §4: metadata from here
 *           clientId: 0oa1b2c3
 *           clientSecretEnv: TENET_OKTA_SECRET   # or `clientSecret: ...` inline
 *           tokenEndpointAuthMethod: client_secret_basic   # or client_secret_post
 *           scopes: [openid, email, profile, groups]      # default openid email profile
 *           usernameClaim: preferred_username  # default; falls back to a verified email
 *           groupsClaim: groups                # default
 *           groupMapping:                      # upstream claim value (or glob) → Tenet group id
 *             - { value: "eng-*", group: engineering }
 *             - { value: "true", group: contractors, claim: is_contractor }
 *           provisioning: existing-only        # default; or auto (create active users)
 *           trustEmail: false                  # treat `email` as verified without email_verified
 *           trustAssurance: false              # default: the upstream's acr/amr count for nothing
 *           acrMap: { "urn:okta:loa:2fa:any": mfa }   # upstream acr → Tenet acr (when trusted)
 *
 * Strict: unknown keys are errors and every error names its field. The client secret is never
 * part of an error message, and the resolved secret is not enumerable, so logging or serialising
 * the configuration does not show it (as the webhook secrets of `src/config/access-config.ts`).
 */
import { z } from "zod";
import { normaliseAcr } from "../acr.js";
import { type ErrorDetail, TenetError } from "../../errors.js";
import { isId } from "../accounts/validate.js";
import { hasControl } from "./claims.js";

export type Provisioning = "auto" | "existing-only";

export interface GroupMappingRule {
  /** The upstream value: exact, or a glob where `*` is any run of characters and `?` one. */
  value: string;
  /** Matches `value` (compiled once). */
  matches: (v: string) => boolean;
  /** The Tenet group id. */
  group: string;
  /** The claim whose value(s) are matched; default the provider's `groupsClaim`. */
  claim: string;
}

export interface FederationProvider {
  id: string;
  name: string;
  /** The issuer identifier, exactly as configured (the discovery document must repeat it). */
  issuer: string;
  clientId: string;
  /** Not enumerable: readable here, absent from JSON, logs and object spreads. */
  readonly clientSecret: string;
  tokenEndpointAuthMethod: "client_secret_basic" | "client_secret_post";
  scopes: string[];
  usernameClaim: string;
  groupsClaim: string;
  groupMapping: GroupMappingRule[];
  /** Honour the upstream's `acr`/`amr` (otherwise its sign-in counts as one factor at level 0). */
  trustAssurance: boolean;
  /** Upstream acr → Tenet acr URI, applied when trusted (values Tenet does not know count for nothing). */
  acrMap: Record<string, string>;
  /** Treat the upstream's `email` as verified even without `email_verified: true` (e.g. Entra ID). */
  trustEmail: boolean;
  provisioning: Provisioning;
  /** Plain http to the issuer (tests and local development only). */
  allowInsecureRequests: boolean;
}

export interface FederationConfig {
  providers: FederationProvider[];
}

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
const SLUG = /^[a-z0-9](?:[a-z0-9-]{0,30}[a-z0-9])?$/;
/** RFC 6749 §3.3: scope-token = 1*( %x21 / %x23-5B / %x5D-7E ). */
const SCOPE_TOKEN = /^[\x21\x23-\x5b\x5d-\x7e]+$/;
const CLAIM_NAME = /^[A-Za-z0-9_.:-]{1,128}$/;
const LABEL = z.string().min(1).max(64).refine((s) => !hasControl(s), "must not contain control characters");

const provider = z
  .strictObject({
    id: z.string().regex(SLUG, "must be a slug: lower-case letters, digits and '-', at most 32 characters"),
    name: LABEL,
    issuer: z.string().min(1).max(2048),
    clientId: z.string().min(1).max(512),
    /** Inline; prefer clientSecretEnv so the file can be kept in Git. */
    clientSecret: z.string().optional(),
    clientSecretEnv: z.string().regex(ENV_NAME, "must be an environment variable name").optional(),
    tokenEndpointAuthMethod: z.enum(["client_secret_basic", "client_secret_post"]).default("client_secret_basic"),
    scopes: z
      .array(z.string().regex(SCOPE_TOKEN, "must be a scope token (RFC 6749 §3.3)"))
      .min(1)
      .refine((s) => s.includes("openid"), "must include 'openid'")
      .default(["openid", "email", "profile"]),
    usernameClaim: z.string().regex(CLAIM_NAME, "must be a claim name").default("preferred_username"),
    groupsClaim: z.string().regex(CLAIM_NAME, "must be a claim name").default("groups"),
    groupMapping: z
      .array(
        z.strictObject({
          value: z.string().min(1).max(512),
          group: z.string().refine(isId, "must be a Tenet group id"),
          claim: z.string().regex(CLAIM_NAME, "must be a claim name").optional(),
        }),
      )
      .default([]),
    trustAssurance: z.boolean().default(false),
    acrMap: z
      .record(z.string().min(1).max(512), z.string().refine((s) => tenetAcr(s) !== undefined, "must be a Tenet acr: 0, mfa, phishing-resistant, hardware, or one of their URIs"))
      .default({}),
    trustEmail: z.boolean().default(false),
    provisioning: z.enum(["auto", "existing-only"]).default("existing-only"),
    allowInsecureRequests: z.boolean().default(false),
  })
  .superRefine((p, ctx) => {
    if ((p.clientSecret === undefined) === (p.clientSecretEnv === undefined)) {
      ctx.addIssue({ code: "custom", path: ["clientSecretEnv"], message: "give exactly one of clientSecret and clientSecretEnv" });
    }
    if (p.clientSecret !== undefined && p.clientSecret.length === 0) ctx.addIssue({ code: "custom", path: ["clientSecret"], message: "must not be empty" });
    const problem = issuerProblem(p.issuer, p.allowInsecureRequests);
    if (problem) ctx.addIssue({ code: "custom", path: ["issuer"], message: problem });
  });

const schema = z.strictObject({ providers: z.array(provider).default([]) });

/** OIDC Discovery 1.0 §3 / RFC 8414 §2: an https URL without query or fragment. */
function issuerProblem(issuer: string, insecure: boolean): string | undefined {
  let u: URL;
  try {
    u = new URL(issuer);
  } catch {
    return "must be a URL";
  }
  if (u.protocol !== "https:" && !(insecure && u.protocol === "http:")) return "must be an https URL (http only with allowInsecureRequests, for tests)";
  if (u.username !== "" || u.password !== "") return "must not hold credentials";
  if (u.search !== "" || u.hash !== "") return "must not have a query or fragment";
  return undefined;
}

/**
 * Validates the `identity.federation` section (`{ providers: [...] }`); `env` is where
 * `clientSecretEnv` names are looked up. Throws a `validation_error` naming every wrong field
 * (under `at`), never a secret.
 */
export function parseFederationConfig(raw: unknown, env: NodeJS.ProcessEnv = process.env, at = "identity.federation"): FederationConfig {
  const parsed = schema.safeParse(raw ?? {});
  const details: ErrorDetail[] = [];
  if (!parsed.success) {
    for (const i of parsed.error.issues) {
      const where = fieldPath(at, i.path);
      if (i.code === "unrecognized_keys") details.push(...i.keys.map((k) => ({ where: `${where}.${k}`, message: "is not a federation setting (check the spelling)" })));
      else details.push({ where, message: i.message });
    }
  }
  const providers: FederationProvider[] = [];
  if (parsed.success) {
    const seen = new Set<string>();
    parsed.data.providers.forEach((p, i) => {
      const here = `${at}.providers[${i}]`;
      if (seen.has(p.id)) details.push({ where: `${here}.id`, message: `'${p.id}' is used by another provider` });
      seen.add(p.id);
      let secret = p.clientSecret;
      if (p.clientSecretEnv !== undefined) {
        secret = env[p.clientSecretEnv];
        if (secret === undefined || secret === "") details.push({ where: `${here}.clientSecretEnv`, message: `the environment variable ${p.clientSecretEnv} is not set` });
      }
      const out: Omit<FederationProvider, "clientSecret"> = {
        id: p.id,
        name: p.name,
        issuer: p.issuer,
        clientId: p.clientId,
        tokenEndpointAuthMethod: p.tokenEndpointAuthMethod,
        scopes: [...new Set(p.scopes)],
        usernameClaim: p.usernameClaim,
        groupsClaim: p.groupsClaim,
        groupMapping: p.groupMapping.map((m) => ({ value: m.value, group: m.group, claim: m.claim ?? p.groupsClaim, matches: matcher(m.value) })),
        trustAssurance: p.trustAssurance,
        acrMap: Object.fromEntries(Object.entries(p.acrMap).map(([k, v]) => [k, tenetAcr(v)!])),
        trustEmail: p.trustEmail,
        provisioning: p.provisioning,
        allowInsecureRequests: p.allowInsecureRequests,
      };
      // The secret stays readable (`p.clientSecret`) but out of JSON, logs and spreads.
      Object.defineProperty(out, "clientSecret", { value: secret ?? "", enumerable: false });
      providers.push(out as FederationProvider);
    });
  }
  if (details.length > 0 || !parsed.success) {
    throw new TenetError("validation_error", `invalid federation configuration: ${details.map((d) => `${d.where}: ${d.message}`).join("; ")}`, { details });
  }
  return { providers };
}

/** A Tenet acr URI for a URI or short name (strings only: not whatever else a lookup may find). */
function tenetAcr(s: string): string | undefined {
  const v: unknown = normaliseAcr(s);
  return typeof v === "string" ? v : undefined;
}

/** `*` any run of characters, `?` one; everything else literal; whole-value match. */
function matcher(glob: string): (v: string) => boolean {
  if (!/[*?]/.test(glob)) return (v) => v === glob;
  let re = "^";
  for (const c of glob) re += c === "*" ? "[\\s\\S]*" : c === "?" ? "[\\s\\S]" : c.replace(/[.+^${}()|[\]\\]/g, "\\$&");
  const r = new RegExp(`${re}$`, "u");
  return (v) => r.test(v);
}

function fieldPath(at: string, path: readonly PropertyKey[]): string {
  let out = at;
  for (const p of path) out += typeof p === "number" ? `[${p}]` : `.${String(p)}`;
  return out;
}
