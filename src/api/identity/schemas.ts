/** Request schemas of the identity admin API (strict: unknown fields are refused). */
import { z } from "zod";

const id = z.string().min(1).max(128);
export const idParams = z.strictObject({ id });
export const passkeyParams = z.strictObject({ id, credential_id: z.string().min(1).max(1400) });
export const uidParams = z.strictObject({ uid: z.string().min(1).max(128) });
export const pageQuery = z.strictObject({ after: z.string().max(128).optional(), page_size: z.coerce.number().int().min(1).max(1000).optional() });
export const sessionsQuery = z.strictObject({ user_id: id.optional(), after: z.string().max(300).optional(), page_size: z.coerce.number().int().min(1).max(1000).optional() });

const text = z.string().min(1).max(256);
export const userBody = z.strictObject({
  id: id.optional(),
  username: z.string().min(1).max(128),
  email: z.string().max(320).optional(),
  email_verified: z.boolean().optional(),
  display_name: text.optional(),
  given_name: text.optional(),
  family_name: text.optional(),
  manager_id: id.optional(),
  external_id: text.optional(),
  /** Default `invited`: the user becomes active by registering a passkey from the invitation. */
  status: z.enum(["invited", "active"]).optional(),
});
export const userPatch = z.strictObject({
  username: z.string().min(1).max(128).optional(),
  email: z.string().max(320).optional(),
  email_verified: z.boolean().optional(),
  display_name: text.optional(),
  given_name: text.optional(),
  family_name: text.optional(),
  manager_id: id.nullable().optional(),
  external_id: text.optional(),
  version: z.number().int().min(1).optional(),
});
export const reasonBody = z.strictObject({ reason: z.string().max(512).optional() });
export const inviteBody = z.strictObject({ ttl_hours: z.number().min(0.01).max(720).optional() });
export const groupBody = z.strictObject({ id: id.optional(), name: z.string().min(1).max(128), members: z.array(id).max(10_000).optional(), external_id: text.optional() });
export const membersBody = z.strictObject({ members: z.array(id).max(10_000) });
export const riskBody = z.strictObject({ level: z.enum(["low", "medium", "high", "critical"]), previous: z.enum(["low", "medium", "high", "critical"]).optional(), reason: z.string().max(512).optional() });
