/**
 * Request schemas of OpenFGA's HTTP API (openfga/api, v1). Strict: a field OpenFGA does not
 * define is refused, so typos surface as errors instead of being silently ignored.
 */
import { z } from "zod";

// No control characters anywhere in identifiers (they break logs and downstream parsers).
const noControl = (max: number) =>
  z
    .string()
    .max(max)
    // eslint-disable-next-line no-control-regex
    .refine((s) => !/[\u0000-\u001f\u007f]/.test(s), "must not contain control characters");

export const ulidSchema = z.string().regex(/^[0-7][0-9A-HJKMNP-TV-Za-hjkmnp-tv-z]{25}$/, "must be a ULID (26 characters)");

export const storeParams = z.strictObject({ store_id: ulidSchema });
export const modelParams = z.strictObject({ store_id: ulidSchema, id: ulidSchema });
export const assertionParams = z.strictObject({ store_id: ulidSchema, authorization_model_id: ulidSchema });

export const consistency = z.enum(["UNSPECIFIED", "MINIMIZE_LATENCY", "HIGHER_CONSISTENCY"]).optional();
const context = z.record(z.string(), z.unknown()).optional();

export const condition = z.strictObject({ name: noControl(256).min(1), context });

export const tupleKey = z.strictObject({
  object: noControl(512).min(1),
  relation: noControl(50).min(1),
  user: noControl(512).min(1),
  condition: condition.optional(),
});

export const tupleKeyWithoutCondition = z.strictObject({
  object: noControl(512).min(1),
  relation: noControl(50).min(1),
  user: noControl(512).min(1),
});

export const contextualTuples = z.strictObject({ tuple_keys: z.array(tupleKey).max(100) }).optional();

const pageSize = z.coerce.number().int().min(1).max(100).optional();
const continuationToken = noControl(4096).optional();

export const pageQuery = z.strictObject({ page_size: pageSize, continuation_token: continuationToken, name: noControl(64).optional() });

export const createStoreBody = z.strictObject({ name: noControl(64).min(3) });

export const writeModelBody = z.strictObject({
  schema_version: z.string(),
  type_definitions: z.array(z.unknown()).max(1000),
  conditions: z.record(z.string(), z.unknown()).optional(),
});

const revisionToken = noControl(32).regex(/^\d+$/, "must be a consistency token returned by a write").optional();

export const writeBody = z.strictObject({
  writes: z.strictObject({ tuple_keys: z.array(tupleKey), on_duplicate: z.enum(["error", "ignore"]).optional() }).optional(),
  deletes: z.strictObject({ tuple_keys: z.array(tupleKeyWithoutCondition), on_missing: z.enum(["error", "ignore"]).optional() }).optional(),
  authorization_model_id: ulidSchema.optional(),
});

export const readBody = z.strictObject({
  tuple_key: z
    .strictObject({ object: noControl(512).optional(), relation: noControl(50).optional(), user: noControl(512).optional() })
    .optional(),
  page_size: pageSize,
  continuation_token: continuationToken,
  consistency,
});

export const changesQuery = z.strictObject({
  type: noControl(254).optional(),
  page_size: pageSize,
  continuation_token: continuationToken,
  start_time: z.string().optional(),
});

const queryCommon = {
  authorization_model_id: ulidSchema.optional(),
  consistency,
  /** Tenet: answer from state at least as fresh as this write (see the write response header). */
  consistency_token: revisionToken,
};

export const checkBody = z.strictObject({
  tuple_key: tupleKeyWithoutCondition,
  contextual_tuples: contextualTuples,
  context,
  trace: z.boolean().optional(),
  /** Tenet: include the path of tuples and rewrites that granted access. */
  explain: z.boolean().optional(),
  ...queryCommon,
});

export const batchCheckBody = z.strictObject({
  checks: z
    .array(
      z.strictObject({
        tuple_key: tupleKeyWithoutCondition,
        contextual_tuples: contextualTuples,
        context,
        correlation_id: noControl(36).min(1),
      }),
    )
    .min(1)
    .max(50),
  ...queryCommon,
});

export const expandBody = z.strictObject({
  tuple_key: z.strictObject({ object: noControl(512).min(1), relation: noControl(50).min(1) }),
  contextual_tuples: contextualTuples,
  ...queryCommon,
});

export const listObjectsBody = z.strictObject({
  type: noControl(254).min(1),
  relation: noControl(50).min(1),
  user: noControl(512).min(1),
  contextual_tuples: contextualTuples,
  context,
  ...queryCommon,
});

export const listUsersBody = z.strictObject({
  object: z.strictObject({ type: noControl(254).min(1), id: noControl(256).min(1) }),
  relation: noControl(50).min(1),
  user_filters: z.array(z.strictObject({ type: noControl(254).min(1), relation: noControl(50).optional() })).length(1),
  contextual_tuples: z.array(tupleKey).max(100).optional(),
  context,
  ...queryCommon,
});

export const assertionsBody = z.strictObject({
  assertions: z
    .array(
      z.strictObject({
        tuple_key: tupleKeyWithoutCondition,
        expectation: z.boolean(),
        contextual_tuples: z.array(tupleKey).max(100).optional(),
        context,
      }),
    )
    .max(100),
});
