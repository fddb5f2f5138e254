/**
 * Request schemas of the access-decision and access-policy routes (strict: unknown fields are
 * refused), and the mapping from an AuthZEN evaluation to an access request.
 */
import { z } from "zod";
import type { AccessRequest } from "../../policy/access/types.js";

const id = z.string().min(1).max(512);
const str = z.string().max(2048);

export const subjectSignals = z.strictObject({
  id: id.regex(/^[^\s:#]+:[^\s#]+$/, "a subject such as user:anne"),
  claims: z.record(z.string(), z.unknown()).optional(),
  groups: z.array(str).max(1000).optional(),
  roles: z.array(str).max(1000).optional(),
  acr: str.optional(),
  amr: z.array(z.string().max(64)).max(32).optional(),
  auth_time: z.number().finite().nonnegative().optional(),
});

export const deviceSignals = z.strictObject({
  id: str.optional(),
  registered: z.boolean().optional(),
  managed: z.boolean().optional(),
  compliant: z.boolean().optional(),
  os: z.strictObject({ name: str.optional(), version: str.optional() }).optional(),
  patch_level: str.optional(),
  disk_encryption: z.boolean().optional(),
  screen_lock: z.boolean().optional(),
  firewall: z.boolean().optional(),
  posture_age: z.number().finite().nonnegative().optional(),
});

export const requestSignals = z.strictObject({
  ip: z.string().max(64).optional(),
  country: z.string().regex(/^[A-Z]{2}$/, "an ISO 3166-1 alpha-2 code").optional(),
  time: z.iso.datetime({ offset: true }).optional(),
  user_agent: str.optional(),
  method: z.string().regex(/^[A-Z]{1,16}$/).optional(),
  host: z.string().max(255).optional(),
  path: str.optional(),
});

export const resourceSignals = z.strictObject({
  type: z.string().min(1).max(254),
  id: id,
  classification: z.enum(["public", "internal", "confidential", "restricted"]).optional(),
  owner: str.optional(),
  attributes: z.record(z.string(), z.unknown()).optional(),
});

export const riskAssessment = z.strictObject({
  score: z.number().min(0).max(100),
  level: z.enum(["low", "medium", "high", "critical"]),
  reasons: z.array(z.strictObject({ signal: str, score: z.number(), reason: str })).max(100),
});

export const accessRequestBody = z.strictObject({
  subject: subjectSignals,
  device: deviceSignals.optional(),
  request: requestSignals.optional(),
  resource: resourceSignals,
  action: z.string().min(1).max(50),
  risk: riskAssessment.optional(),
  context: z.record(z.string(), z.unknown()).optional(),
});

export const applyBody = z.strictObject({
  /** The policy files, as their text (YAML). */
  files: z.array(z.strictObject({ name: z.string().min(1).max(512), content: z.string().max(2 * 1024 * 1024) })).min(1).max(1000),
  mode: z.enum(["live", "shadow"]).optional(),
  comment: z.string().max(1000).optional(),
  dry_run: z.boolean().optional(),
});

export const versionParams = z.strictObject({ store_id: z.string().min(1).max(64), version: z.coerce.number().int().positive() });
export const diffQuery = z.strictObject({ from: z.coerce.number().int().positive(), to: z.coerce.number().int().positive() });
/** `shadow_version`: promote only if the shadow is still the version the caller reviewed. */
export const promoteBody = z.strictObject({ shadow_version: z.number().int().positive().optional() });
export const rollbackBody = z.strictObject({ version: z.number().int().positive(), comment: z.string().max(1000).optional() });

type Entity = { type: string; id: string; properties?: Record<string, unknown> | undefined };

const SUBJECT_KEYS = new Set(["claims", "groups", "roles", "acr", "amr", "auth_time"]);

/**
 * AuthZEN → access request: subject and resource properties carry the signals of the same name
 * (other resource properties become attributes, other subject properties claims); the request
 * `context` may carry `device`, `request` and `risk`, the rest is condition context.
 */
export function accessRequestFromAuthzen(sub: Entity, res: Entity, action: string, ctx: Record<string, unknown> | undefined): AccessRequest {
  const subject: Record<string, unknown> = { id: `${sub.type}:${sub.id}` };
  const claims: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(sub.properties ?? {})) {
    if (SUBJECT_KEYS.has(k)) subject[k] = v;
    else claims[k] = v;
  }
  if (Object.keys(claims).length > 0) subject.claims = { ...claims, ...((subject.claims as Record<string, unknown> | undefined) ?? {}) };
  const { classification, owner, ...attributes } = res.properties ?? {};
  const resource: Record<string, unknown> = { type: res.type, id: res.id };
  if (classification !== undefined) resource.classification = classification;
  if (owner !== undefined) resource.owner = owner;
  if (Object.keys(attributes).length > 0) resource.attributes = attributes;
  const { device, request, risk, ...context } = ctx ?? {};
  const body: Record<string, unknown> = { subject, resource, action };
  if (device !== undefined) body.device = device;
  if (request !== undefined) body.request = request;
  if (risk !== undefined) body.risk = risk;
  if (Object.keys(context).length > 0) body.context = context;
  // Validated as strictly as the native endpoint.
  return accessRequestBody.parse(body) as AccessRequest;
}
