/**
 * Access-policy test files, run by `tenet test` beside the OpenFGA-format model tests:
 *
 *   kind: AccessPolicyTest
 *   policies: [../policies/default]      # files or directories, relative to the test file
 *   model: |                             # the relationship model (DSL)
 *     model ...
 *   tuples: [{ object: document:1, relation: viewer, user: user:anne }]
 *   grants: [{ subject: user:anne, object: iam_policy:root, action: editor }]   # active JIT grants
 *   tests:
 *     - name: internal docs from a corporate device
 *       request: { subject: {...}, device: {...}, request: {...}, resource: {...}, action: viewer, risk: {...} }
 *       expect: { decision: allow }                      # also challenge, pending, reasons_include, obligations
 *
 * Each test runs the real decision point over an in-memory relationship store.
 */
import { dirname, resolve } from "node:path";
import { parse as parseYaml } from "yaml";
import { z } from "zod";
import { TenetError } from "../../errors.js";
import { MemoryDatastore } from "../../storage/memory/memory-datastore.js";
import { PolicyService } from "../service.js";
import { AccessDecisionPoint, type JitAccess } from "./decision-point.js";
import { readPolicySources } from "./files.js";
import { AccessPolicyStore } from "./policy-store.js";
import type { TupleKey } from "../tuples/tuple.js";
import type { AccessRequest } from "./types.js";

const testFileSchema = z.strictObject({
  kind: z.literal("AccessPolicyTest"),
  name: z.string().optional(),
  policies: z.array(z.string()).min(1),
  model: z.string(),
  tuples: z.array(z.strictObject({ object: z.string(), relation: z.string(), user: z.string(), condition: z.strictObject({ name: z.string(), context: z.record(z.string(), z.unknown()).optional() }).optional() })).optional(),
  grants: z.array(z.strictObject({ subject: z.string(), object: z.string(), action: z.string() })).optional(),
  /** The evaluation time (RFC 3339); default now. */
  now: z.string().optional(),
  tests: z
    .array(
      z.strictObject({
        name: z.string(),
        request: z.record(z.string(), z.unknown()),
        expect: z.strictObject({
          decision: z.enum(["allow", "deny", "challenge", "pending"]),
          challenge: z.record(z.string(), z.unknown()).optional(),
          obligations: z.array(z.record(z.string(), z.unknown())).optional(),
          reasons_include: z.array(z.string()).optional(),
        }),
      }),
    )
    .min(1),
});

export function isAccessPolicyTest(text: string): boolean {
  return /^kind:\s*AccessPolicyTest\s*$/m.test(text);
}

export interface AccessTestResult {
  passed: number;
  failed: number;
  failures: Array<{ test: string; message: string }>;
}

export async function runAccessPolicyTests(text: string, file: string): Promise<AccessTestResult> {
  const parsed = testFileSchema.safeParse(parseYaml(text));
  if (!parsed.success) throw new TenetError("validation_error", `${file}: ${parsed.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; ")}`);
  const spec = parsed.data;
  const now = spec.now ? Date.parse(spec.now) : Date.now();
  const ds = new MemoryDatastore();
  const policy = new PolicyService(ds);
  const storeId = (await policy.createStore(spec.name ?? "access-policy-test")).id;
  await policy.writeModel(storeId, spec.model);
  if (spec.tuples?.length) await policy.write(storeId, { writes: spec.tuples as TupleKey[] });
  const policies = new AccessPolicyStore(ds);
  await policies.apply(storeId, readPolicySources(spec.policies.map((p) => resolve(dirname(file), p))), { appliedBy: "tenet test" });
  const grants = new Set((spec.grants ?? []).map((g) => `${g.subject}|${g.object}|${g.action}`));
  const jit: JitAccess = {
    activeGrantNow: (_s, subject, object, action) => (grants.has(`${subject}|${object}|${action}`) ? { id: "test-grant", expiresAt: new Date(now + 3600_000).toISOString() } : null),
    prepare: async () => undefined,
    requestApproval: async () => ({ id: "test-request", approvers: [] }),
    // A test sends nothing: the expected obligations are compared instead.
    notify: async () => undefined,
  };
  const pdp = new AccessDecisionPoint({ policy, policies, jit, now: () => now });
  const result: AccessTestResult = { passed: 0, failed: 0, failures: [] };
  for (const t of spec.tests) {
    const problems: string[] = [];
    try {
      const d = await pdp.decide(storeId, t.request as unknown as AccessRequest);
      if (d.decision !== t.expect.decision) problems.push(`decision ${d.decision}, expected ${t.expect.decision} (${d.reasons.join("; ")})`);
      if (t.expect.challenge && JSON.stringify(d.challenge ?? {}) !== JSON.stringify(t.expect.challenge)) problems.push(`challenge ${JSON.stringify(d.challenge ?? {})}, expected ${JSON.stringify(t.expect.challenge)}`);
      if (t.expect.obligations && JSON.stringify(d.obligations) !== JSON.stringify(t.expect.obligations)) problems.push(`obligations ${JSON.stringify(d.obligations)}, expected ${JSON.stringify(t.expect.obligations)}`);
      for (const r of t.expect.reasons_include ?? []) if (!d.reasons.some((x) => x.includes(r))) problems.push(`no reason mentions '${r}' (${d.reasons.join("; ")})`);
    } catch (err) {
      problems.push(`error: ${(err as Error).message}`);
    }
    if (problems.length === 0) result.passed++;
    else {
      result.failed++;
      result.failures.push({ test: t.name, message: problems.join("; ") });
    }
  }
  return result;
}
