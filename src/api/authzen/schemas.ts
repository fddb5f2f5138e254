/** Request schemas of the OpenID AuthZEN Authorization API 1.0. */
import { z } from "zod";

// eslint-disable-next-line no-control-regex
const NOT_IN_ID = /[\u0000-\u001f\u007f:#\s]/;
const NAME = /^[^:#@\s*]+$/;
const id = z
  .string()
  .min(1)
  .max(256)
  .refine((s) => !NOT_IN_ID.test(s), "must not contain control characters, whitespace, ':' or '#'");
const typeName = z
  .string()
  .min(1)
  .max(254)
  .regex(NAME, "must be a type name");
const properties = z.record(z.string(), z.unknown()).optional();

export const entity = z.object({ type: typeName, id, properties });
export const action = z.object({ name: z.string().min(1).max(50).regex(NAME, "must be a relation name"), properties });
export const context = z.record(z.string(), z.unknown()).optional();

export const evaluationBody = z.object({ subject: entity, resource: entity, action, context });

const partialEval = z.object({ subject: entity.optional(), resource: entity.optional(), action: action.optional(), context });

export const evaluationsBody = z.object({
  subject: entity.optional(),
  resource: entity.optional(),
  action: action.optional(),
  context,
  evaluations: z.array(partialEval).max(50).optional(),
  options: z
    .object({ evaluations_semantic: z.enum(["execute_all", "deny_on_first_deny", "permit_on_first_permit"]).optional() })
    .passthrough()
    .optional(),
});

export const page = z.object({ token: z.string().max(64).optional(), limit: z.number().int().min(1).max(1000).optional() }).optional();

export const searchSubjectBody = z.object({
  subject: z.object({ type: typeName, properties }),
  resource: entity,
  action,
  context,
  page,
});

export const searchResourceBody = z.object({
  subject: entity,
  resource: z.object({ type: typeName, properties }),
  action,
  context,
  page,
});

export const searchActionBody = z.object({ subject: entity, resource: entity, context, page });

const ULID = /^[0-7][0-9A-HJKMNP-TV-Z]{25}$/;
export const storeParams = z.object({ store_id: z.string().regex(ULID, "must be a ULID") });

// ---- fast paths ----------------------------------------------------------------------------------
// As in ../openfga/schemas.ts: hand-written equivalents of the hottest schemas for the common
// shapes, returning what zod's parse returns, or undefined (then zod decides) for anything else.
// These schemas are not strict: unknown fields are dropped, as zod drops them.

type Fields = Record<string, unknown>;

const isObject = (v: unknown): v is Fields => typeof v === "object" && v !== null && !Array.isArray(v);
const isString = (v: unknown, max: number): v is string => typeof v === "string" && v.length >= 1 && v.length <= max;

/** `storeParams`, fast. */
export function fastStoreParams(v: unknown): z.infer<typeof storeParams> | undefined {
  if (!isObject(v)) return undefined;
  const storeId = v.store_id;
  return typeof storeId === "string" && ULID.test(storeId) ? { store_id: storeId } : undefined;
}

/** `entity` without properties, fast. */
function fastEntity(v: unknown): z.infer<typeof entity> | undefined {
  if (!isObject(v) || "properties" in v) return undefined;
  const { type, id } = v;
  return isString(type, 254) && NAME.test(type) && isString(id, 256) && !NOT_IN_ID.test(id) ? { type, id } : undefined;
}

/** `evaluationBody` without properties or context, fast. */
export function fastEvaluationBody(v: unknown): z.infer<typeof evaluationBody> | undefined {
  if (!isObject(v) || "context" in v) return undefined;
  const subject = fastEntity(v.subject);
  const resource = fastEntity(v.resource);
  const act = v.action;
  if (!subject || !resource || !isObject(act) || "properties" in act) return undefined;
  const name = act.name;
  return isString(name, 50) && NAME.test(name) ? { subject, resource, action: { name } } : undefined;
}
