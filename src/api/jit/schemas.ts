/**
 * Request schemas of the just-in-time access API. Strict: an unknown field is refused. The
 * shapes are checked here; meaning (durations, approvers, who may act) in the JIT service.
 */
import { z } from "zod";
import { JIT_STATUSES, type JitStatus } from "../../policy/jit/types.js";
import { ulidSchema } from "../openfga/schemas.js";

// eslint-disable-next-line no-control-regex
const CONTROL_CHARS = /[\u0000-\u001f\u007f]/;
const id = (max: number, example: string) =>
  z
    .string()
    .min(1)
    .max(max)
    .refine((s) => !CONTROL_CHARS.test(s), "must not contain control characters")
    .describe(example);

const subject = id(512, "a subject such as user:anne");
const object = id(512, "an object such as doc:1");
const relation = id(50, "a relation such as editor");
const text = z.string().min(1).max(1000);
const duration = z.string().min(2).max(32).describe("30m, 2h, 1h30m or ISO 8601 PT1H");

const approverSpec = z.strictObject({
  users: z.array(subject).max(100).optional(),
  groups: z.array(object).max(100).optional(),
  manager: z.boolean().optional(),
});

export const storeParams = z.strictObject({ store_id: ulidSchema });
export const requestParams = z.strictObject({ store_id: ulidSchema, id: ulidSchema });

export const createBody = z.strictObject({
  requester: subject,
  resource: object,
  action: relation,
  reason: text,
  duration,
  approvers: approverSpec,
});

export const breakGlassBody = z.strictObject({
  requester: subject,
  resource: object,
  action: relation,
  reason: text,
  duration,
  reviewers: approverSpec.optional(),
});

export const decisionBody = z.strictObject({ approver: subject, justification: text });
export const revokeBody = z.strictObject({ actor: subject, justification: text });
export const reviewBody = z.strictObject({ reviewer: subject, outcome: z.enum(["upheld", "revoked"]), justification: text });

export const listQuery = z.strictObject({
  status: z.enum(JIT_STATUSES as unknown as [JitStatus, ...JitStatus[]]).optional(),
  requester: subject.optional(),
  approver: subject.optional(),
  page_size: z.coerce.number().int().min(1).max(100).optional(),
  continuation_token: ulidSchema.optional(),
});
