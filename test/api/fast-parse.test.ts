/**
 * The hand-written fast paths of the hottest request schemas (Check, BatchCheck, AuthZEN
 * evaluation and their path parameters) against the zod schemas they stand in for: whenever a
 * fast path accepts an input, zod accepts it too and returns equal data (so zod alone decides
 * every refusal), and the fast paths do accept the usual valid requests. Inputs are random
 * mutations of valid ones; reproduce a run with TENET_FUZZ_SEED=<seed> (printed on failure).
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import type { z } from "zod";
import * as authzen from "../../src/api/authzen/schemas.js";
import * as openfga from "../../src/api/openfga/schemas.js";
import { rng } from "../rng.js";

const SEED = Number(process.env.TENET_FUZZ_SEED ?? Math.floor(Math.random() * 2 ** 32));
const N = Number(process.env.TENET_FUZZ_N ?? 3000);


const ULID = "01ARZ3NDEKTSV4RRFFQ69G5FAV";

/** Strings near every boundary the schemas draw: lengths, control characters, separators. */
const STRINGS = [
  "",
  "a",
  "document:d1",
  "user:u1",
  "viewer",
  "user:*",
  "group:g#member",
  "a b",
  "a\tb",
  "a\u0000b",
  "a\u001fb",
  "a\u007fb",
  "a\u0080b",
  "é",
  "👍",
  "a:b",
  "a#b",
  "a@b",
  "a*b",
  " a",
  "a\n",
  "__proto__",
  "constructor",
  "x".repeat(36),
  "x".repeat(37),
  "x".repeat(50),
  "x".repeat(51),
  "x".repeat(254),
  "x".repeat(255),
  "x".repeat(256),
  "x".repeat(257),
  "x".repeat(512),
  "x".repeat(513),
  "0",
  "42",
  "-1",
  "1.5",
  "9".repeat(32),
  "9".repeat(33),
  ULID,
  ULID.toLowerCase(),
  ULID.slice(1),
  `8${ULID.slice(1)}`,
  `${ULID.slice(0, 25)}I`,
  "UNSPECIFIED",
  "MINIMIZE_LATENCY",
  "HIGHER_CONSISTENCY",
  "higher_consistency",
];

function mutator(r: () => number) {
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)]!;
  const scalar = (): unknown => pick<unknown>([pick(STRINGS), pick(STRINGS), true, false, null, 0, 1, -1, 1.5, [], {}, [pick(STRINGS)], undefined]);
  const KEYS = ["object", "relation", "user", "condition", "tuple_key", "checks", "correlation_id", "contextual_tuples", "context", "trace", "explain", "authorization_model_id", "consistency", "consistency_token", "subject", "resource", "action", "type", "id", "name", "properties", "store_id", "extra", "__proto__"];
  const setKey = (o: Record<string, unknown>, k: string, v: unknown): void => {
    Object.defineProperty(o, k, { value: v, enumerable: true, writable: true, configurable: true });
  };
  /** A copy of `v` with a few random changes somewhere inside. */
  const mutate = (v: unknown, depth = 0): unknown => {
    if (r() < 0.08) return scalar();
    if (Array.isArray(v)) {
      const out = v.map((x) => (r() < 0.3 ? mutate(x, depth + 1) : x));
      if (r() < 0.1) out.push(mutate(v[0], depth + 1));
      if (r() < 0.1) out.pop();
      if (r() < 0.05) while (out.length <= 50) out.push(v[0]);
      return out;
    }
    if (typeof v === "object" && v !== null) {
      const out: Record<string, unknown> = {};
      for (const [k, x] of Object.entries(v)) {
        if (r() < 0.06) continue;
        setKey(out, k, r() < 0.3 ? mutate(x, depth + 1) : x);
      }
      if (r() < 0.08) setKey(out, pick(KEYS), depth < 3 && r() < 0.3 ? mutate(v, depth + 1) : scalar());
      return out;
    }
    return r() < 0.5 ? pick(STRINGS) : scalar();
  };
  return { mutate, pick };
}

const tupleKey = (i: number) => ({ object: `document:d${i}`, relation: "viewer", user: `user:u${i}` });

interface Case<T extends z.ZodType> {
  name: string;
  schema: T;
  fast: (v: unknown) => z.infer<T> | undefined;
  /** Valid inputs the fast path must accept. */
  valid: unknown[];
}

const cases = [
  {
    name: "OpenFGA store params",
    schema: openfga.storeParams,
    fast: openfga.fastStoreParams,
    valid: [{ store_id: ULID }, { store_id: ULID.toLowerCase() }],
  } satisfies Case<typeof openfga.storeParams>,
  {
    name: "Check body",
    schema: openfga.checkBody,
    fast: openfga.fastCheckBody,
    valid: [
      { tuple_key: tupleKey(1) },
      { tuple_key: tupleKey(2), authorization_model_id: ULID, consistency: "MINIMIZE_LATENCY" },
      { tuple_key: tupleKey(3), consistency: "HIGHER_CONSISTENCY", consistency_token: "42", trace: false, explain: true },
    ],
  } satisfies Case<typeof openfga.checkBody>,
  {
    name: "BatchCheck body",
    schema: openfga.batchCheckBody,
    fast: openfga.fastBatchCheckBody,
    valid: [
      { checks: [{ tuple_key: tupleKey(1), correlation_id: "c1" }] },
      { checks: Array.from({ length: 50 }, (_, i) => ({ tuple_key: tupleKey(i), correlation_id: `c${i}` })), authorization_model_id: ULID },
    ],
  } satisfies Case<typeof openfga.batchCheckBody>,
  {
    name: "AuthZEN store params",
    schema: authzen.storeParams,
    fast: authzen.fastStoreParams,
    valid: [{ store_id: ULID }],
  } satisfies Case<typeof authzen.storeParams>,
  {
    name: "AuthZEN evaluation body",
    schema: authzen.evaluationBody,
    fast: authzen.fastEvaluationBody,
    valid: [
      { subject: { type: "user", id: "u1" }, resource: { type: "document", id: "d1" }, action: { name: "viewer" } },
      { subject: { type: "user", id: "u1", extra: 1 }, resource: { type: "document", id: "d1" }, action: { name: "viewer" }, unknown: true },
    ],
  } satisfies Case<typeof authzen.evaluationBody>,
];

describe("fast request parsers agree with the zod schemas", () => {
  for (const c of cases) {
    test(c.name, () => {
      for (const v of c.valid) {
        const fast = c.fast(v);
        assert.notEqual(fast, undefined, `the fast path refuses a valid input: ${JSON.stringify(v)}`);
        const z = c.schema.safeParse(v);
        assert.ok(z.success, `zod refuses: ${JSON.stringify(v)}`);
        assert.deepStrictEqual(fast, z.data);
      }
      const r = rng(SEED);
      const { mutate, pick } = mutator(r);
      let accepted = 0;
      let refusedByZod = 0;
      for (let i = 0; i < N; i++) {
        // Mutations of mutations reach further from the valid inputs.
        let v = mutate(pick<unknown>(c.valid));
        if (r() < 0.3) v = mutate(v);
        const fast = c.fast(v);
        const z = c.schema.safeParse(v);
        if (!z.success) refusedByZod++;
        if (fast === undefined) continue;
        accepted++;
        assert.ok(z.success, `seed ${SEED}: the fast path accepts what zod refuses: ${JSON.stringify(v)} (${z.error?.message})`);
        assert.deepStrictEqual(fast, z.data, `seed ${SEED}: different data for ${JSON.stringify(v)}`);
      }
      // The mutations exercise both sides.
      assert.ok(accepted > N / 20, `seed ${SEED}: only ${accepted} of ${N} inputs took the fast path`);
      assert.ok(refusedByZod > N / 20, `seed ${SEED}: only ${refusedByZod} of ${N} inputs were invalid`);
    });
  }
});
