/**
 * The access decisions the audit benchmark records, from the policy benchmark's generators
 * (bench/policy): a document-sharing model with about 50,000 relationships written through
 * PolicyService (recording its changes in the audit log, as `tenet serve` does), generated access
 * policies applied through AccessPolicyStore, the risk engine behind its history cache, named
 * network zones, and a pool of distinct requests with realistic signals.
 *
 * `decisionPoint` wires an AccessDecisionPoint the way src/app/assemble.ts does (without just-in-
 * time access), with or without the audit recorder, over the same policy service and store.
 */
import type { ChangeRecorder } from "../../src/audit/change-recorder.js";
import { AccessDecisionPoint, type DecisionOrigin, type DecisionRecorder } from "../../src/policy/access/decision-point.js";
import { AccessPolicyStore } from "../../src/policy/access/policy-store.js";
import type { AccessRequest } from "../../src/policy/access/types.js";
import { PolicyService } from "../../src/policy/service.js";
import type { Datastore } from "../../src/storage/interfaces.js";
import { MODEL_DSL, NOW, makeRelationships, makeRequests } from "../policy/dataset.js";
import { elapsedMs, now } from "../policy/measure.js";
import { makePolicies } from "../policy/policies.js";
import { loadRisk, type LoadedRisk } from "../policy/risk.js";
import { zonesOf } from "../policy/zones.js";

export interface DecisionWorld {
  policy: PolicyService;
  policies: AccessPolicyStore;
  storeId: string;
  requests: AccessRequest[];
  risk: LoadedRisk;
  tuples: number;
  policyCount: number;
  rules: number;
  setupMs: { tuples: number; policies: number; risk: number };
}

export interface WorldOptions {
  seed: number;
  policies: number;
  requests: number;
  /** Records the set-up's changes (tuple writes, the policy apply), as `tenet serve` does. */
  changes?: ChangeRecorder | undefined;
}

/** Writes the relationships and the policies into `ds` and prepares the request pool. */
export async function buildWorld(ds: Datastore, o: WorldOptions): Promise<DecisionWorld> {
  const rel = makeRelationships(o.seed);
  const policy = new PolicyService(ds, { changes: o.changes });
  const storeId = (await policy.createStore("bench-audit")).id;
  await policy.writeModel(storeId, MODEL_DSL);
  let t0 = now();
  for (let i = 0; i < rel.tuples.length; i += 100) await policy.write(storeId, { writes: rel.tuples.slice(i, i + 100) });
  await policy.warm(storeId);
  const tuplesMs = elapsedMs(t0);

  t0 = now();
  const gen = makePolicies(o.seed + 1, o.policies);
  const policies = new AccessPolicyStore(ds, o.changes);
  await policies.apply(storeId, gen.sources, { appliedBy: "bench", comment: "bench:audit" });
  const policiesMs = elapsedMs(t0);

  t0 = now();
  const pool = makeRequests(o.seed + 2, rel, o.requests);
  const risk = await loadRisk(pool.histories, pool.requests);
  const riskMs = elapsedMs(t0);
  // A share of callers send context (stored only as an HMAC).
  const requests = pool.requests.map((req, i) => (i % 5 === 0 ? { ...req, context: { ticket: `INC-${100_000 + i}`, reason: "customer escalation" } } : req));
  return {
    policy,
    policies,
    storeId,
    requests,
    risk,
    tuples: rel.tuples.length,
    policyCount: gen.documentPolicies + gen.routePolicies + gen.appPolicies,
    rules: gen.rules,
    setupMs: { tuples: tuplesMs, policies: policiesMs, risk: riskMs },
  };
}

/** A decision point over the world, recording through `audit` when given. */
export function decisionPoint(world: DecisionWorld, audit?: DecisionRecorder): AccessDecisionPoint {
  return new AccessDecisionPoint({ policy: world.policy, policies: world.policies, risk: world.risk.assessor, zonesOf, now: () => NOW, audit });
}

/** Which API asked, spread as a server's traffic would be (the credential is an id, never a token). */
export const ORIGINS: DecisionOrigin[] = [
  { via: "access.decide", client: "api_key:01JBENCHKEY0000000000000001" },
  { via: "access.decide", client: "api_key:01JBENCHKEY0000000000000002" },
  { via: "authzen.evaluation", client: "api_key:01JBENCHKEY0000000000000003" },
  { via: "proxy" },
  { via: "openfga.check", client: "api_key:01JBENCHKEY0000000000000004" },
];
