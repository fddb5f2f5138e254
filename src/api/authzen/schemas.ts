/** Request schemas of the OpenID AuthZEN Authorization API 1.0. */
import { z } from "zod";

const id = z
  .string()
  .min(1)
  .max(256)
  // eslint-disable-next-line no-control-regex
  .refine((s) => !/[\u0000-\u001f\u007f:#\s]/.test(s), "must not contain control characters, whitespace, ':' or '#'");
const typeName = z
  .string()
  .min(1)
  .max(254)
  .regex(/^[^:#@\s*]+$/, "must be a type name");
const properties = z.record(z.string(), z.unknown()).optional();

export const entity = z.object({ type: typeName, id, properties });
export const action = z.object({ name: z.string().min(1).max(50).regex(/^[^:#@\s*]+$/, "must be a relation name"), properties });
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

export const storeParams = z.object({ store_id: z.string().regex(/^[0-7][0-9A-HJKMNP-TV-Z]{25}$/, "must be a ULID") });
