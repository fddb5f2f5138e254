/**
 * Request schemas of OpenFGA's HTTP API (openfga/api, v1). Strict: a field OpenFGA does not
 * define is refused, so typos surface as errors instead of being silently ignored.
 */
import { z } from "zod";

// No control characters anywhere in identifiers (they break logs and downstream parsers).
// eslint-disable-next-line no-control-regex
const CONTROL_CHARS = /[\u0000-\u001f\u007f]/;
const noControl = (max: number) =>
  z
    .string()
    .max(max)
    .refine((s) => !CONTROL_CHARS.test(s), "must not contain control characters");

const ULID = /^[0-7][0-9A-HJKMNP-TV-Za-hjkmnp-tv-z]{25}$/;
export const ulidSchema = z.string().regex(ULID, "must be a ULID (26 characters)");

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

const REVISION = /^\d+$/;
const revisionToken = noControl(32).regex(REVISION, "must be a consistency token returned by a write").optional();

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

// ---- fast paths ----------------------------------------------------------------------------------
// Hand-written equivalents of the hottest schemas, for the common shapes only: each returns what
// the zod schema's parse would return, or undefined for any input it does not fully recognise
// (a field it does not handle, or anything zod might refuse), which then goes to zod. So zod
// alone decides every refusal and its message; these only make the usual valid request cheaper.
// They use the schemas' own regular expressions; test/api/fast-parse.test.ts compares them with zod.

type Fields = Record<string, unknown>;

const isObject = (v: unknown): v is Fields => typeof v === "object" && v !== null && !Array.isArray(v);

/** What `noControl(max).min(1)` accepts. */
const isName = (v: unknown, max: number): v is string => typeof v === "string" && v.length >= 1 && v.length <= max && !CONTROL_CHARS.test(v);

/** `storeParams`, fast. */
export function fastStoreParams(v: unknown): z.infer<typeof storeParams> | undefined {
  if (!isObject(v)) return undefined;
  for (const k in v) if (k !== "store_id") return undefined;
  const id = v.store_id;
  return typeof id === "string" && ULID.test(id) ? { store_id: id } : undefined;
}

/** `tupleKeyWithoutCondition`, fast. */
function fastTupleKey(v: unknown): z.infer<typeof tupleKeyWithoutCondition> | undefined {
  if (!isObject(v)) return undefined;
  for (const k in v) if (k !== "object" && k !== "relation" && k !== "user") return undefined;
  const { object, relation, user } = v;
  return isName(object, 512) && isName(relation, 50) && isName(user, 512) ? { object, relation, user } : undefined;
}

type QueryCommon = { authorization_model_id?: string | undefined; consistency?: "UNSPECIFIED" | "MINIMIZE_LATENCY" | "HIGHER_CONSISTENCY" | undefined; consistency_token?: string | undefined };

/** The `queryCommon` fields present in `v` into `out`; false when one is not plainly valid. */
function fastQueryCommon(v: Fields, out: QueryCommon): boolean {
  if ("authorization_model_id" in v) {
    const id = v.authorization_model_id;
    if (typeof id !== "string" || !ULID.test(id)) return false;
    out.authorization_model_id = id;
  }
  if ("consistency" in v) {
    const c = v.consistency;
    if (c !== "UNSPECIFIED" && c !== "MINIMIZE_LATENCY" && c !== "HIGHER_CONSISTENCY") return false;
    out.consistency = c;
  }
  if ("consistency_token" in v) {
    const t = v.consistency_token;
    if (!isName(t, 32) || !REVISION.test(t)) return false;
    out.consistency_token = t;
  }
  return true;
}

const QUERY_COMMON_KEYS = new Set(["authorization_model_id", "consistency", "consistency_token"]);
const CHECK_FAST_KEYS = new Set(["tuple_key", "trace", "explain", ...QUERY_COMMON_KEYS]);

/** `checkBody` without contextual tuples or context, fast. */
export function fastCheckBody(v: unknown): z.infer<typeof checkBody> | undefined {
  if (!isObject(v)) return undefined;
  for (const k in v) if (!CHECK_FAST_KEYS.has(k)) return undefined;
  const tupleKey = fastTupleKey(v.tuple_key);
  if (!tupleKey) return undefined;
  const out: z.infer<typeof checkBody> = { tuple_key: tupleKey };
  if ("trace" in v) {
    if (typeof v.trace !== "boolean") return undefined;
    out.trace = v.trace;
  }
  if ("explain" in v) {
    if (typeof v.explain !== "boolean") return undefined;
    out.explain = v.explain;
  }
  return fastQueryCommon(v, out) ? out : undefined;
}

const BATCH_FAST_KEYS = new Set(["checks", ...QUERY_COMMON_KEYS]);

/** `batchCheckBody` whose checks have neither contextual tuples nor context, fast. */
export function fastBatchCheckBody(v: unknown): z.infer<typeof batchCheckBody> | undefined {
  if (!isObject(v)) return undefined;
  for (const k in v) if (!BATCH_FAST_KEYS.has(k)) return undefined;
  const checks = v.checks;
  if (!Array.isArray(checks) || checks.length < 1 || checks.length > 50) return undefined;
  const items: z.infer<typeof batchCheckBody>["checks"] = [];
  for (let i = 0; i < checks.length; i++) {
    const c: unknown = checks[i];
    if (!isObject(c)) return undefined;
    for (const k in c) if (k !== "tuple_key" && k !== "correlation_id") return undefined;
    const tupleKey = fastTupleKey(c.tuple_key);
    const id = c.correlation_id;
    if (!tupleKey || !isName(id, 36)) return undefined;
    items.push({ tuple_key: tupleKey, correlation_id: id });
  }
  const out: z.infer<typeof batchCheckBody> = { checks: items };
  return fastQueryCommon(v, out) ? out : undefined;
}
