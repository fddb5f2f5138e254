/**
 * One access decision from a compiled policy set. Synchronous and allocation-light: it runs on
 * every request an enforcement point sees.
 *
 * Semantics (documented in the README):
 * - The policies whose target matches the request apply; none → deny.
 * - Deny wins: a deny rule whose condition holds — or cannot be evaluated because the request
 *   lacks a signal it needs — denies.
 * - An allow rule whose condition holds is a candidate; one that cannot be evaluated is not.
 *   Its requirements (fixed, or by risk level) are compared with the request: assurance level,
 *   authentication age, device state, just-in-time approval. A risk level the rule does not list
 *   is refused. A candidate with nothing missing allows.
 * - Otherwise the first candidate missing the least says what to do: `challenge` for missing
 *   assurance, freshness or device state (step-up comes before asking anyone for approval),
 *   `pending` when only an approval is missing. No candidate → deny.
 */
import { isoTime } from "../../util/iso-time.js";
import { withCheckScope } from "./cel-env.js";
import { DeviceView, RequestView, ResourceView, RiskView, SubjectView } from "./cel-views.js";
import type { CompiledPolicy, CompiledPolicySet, CompiledRequirements, CompiledRule } from "./compile.js";
import { ACR_ALIASES, ACR_URIS, type AccessRequest, ASSURANCE_LEVELS, type AssuranceLevel, type RiskAssessment } from "./types.js";

export interface RelationshipAnswer {
  allowed: boolean;
  /** The path of tuples and rewrites that granted it (explain). */
  why?: unknown;
}

export interface EvaluationHooks {
  /** Asks the relationship engine (synchronously). */
  check(object: string, relation: string, user: string, context: Record<string, unknown>): RelationshipAnswer;
  /** The subject's active just-in-time grant for this object and action, if any. */
  activeGrant?(subject: string, object: string, action: string, now: number): { id: string; expiresAt: string } | undefined;
  /** Named network zones (CIDR sets) the client address falls in. */
  zonesOf?(ip: string): string[];
}

export type RuleOutcome = "matched" | "not_matched" | "unevaluable" | "requirements_unmet" | "refused_at_risk";

export interface RuleTrace {
  policy: string;
  rule: string;
  effect: "allow" | "deny";
  outcome: RuleOutcome;
  reason?: string;
}

export interface Challenge {
  /** The acr the subject must reach (its URI; `acr_values` for the identity provider). */
  acr?: string;
  /** Seconds: the authentication must be at most this old (OIDC `max_age`). */
  max_age?: number;
  device?: Array<"registered" | "managed" | "compliant">;
}

export interface ApprovalNeeded {
  policy: string;
  rule: string;
  approvers: { users?: string[] | undefined; groups?: string[] | undefined; manager?: boolean | undefined };
  durationSeconds: number;
}

export interface Obligation {
  type: "notify";
  to: string;
}

export interface RelationshipUse {
  object: string;
  relation: string;
  user: string;
  allowed: boolean;
  path?: unknown;
}

export interface Evaluation {
  decision: "allow" | "deny" | "challenge" | "pending";
  rules: RuleTrace[];
  challenge?: Challenge;
  approval?: ApprovalNeeded;
  grant?: { id: string; expiresAt: string };
  obligations: Obligation[];
  relationships: RelationshipUse[];
  reasons: string[];
}

const LEVEL_OF = new Map<string, number>();
ASSURANCE_LEVELS.forEach((l, i) => LEVEL_OF.set(l, i));
for (const [level, uri] of Object.entries(ACR_URIS)) LEVEL_OF.set(uri, ASSURANCE_LEVELS.indexOf(level as AssuranceLevel));
for (const [alias, level] of Object.entries(ACR_ALIASES)) LEVEL_OF.set(alias, ASSURANCE_LEVELS.indexOf(level));

/** The assurance level of an `acr` value (URI or short name); unknown or absent → none. */
export function assuranceOf(acr: string | undefined): number {
  return acr === undefined ? 0 : (LEVEL_OF.get(acr) ?? 0);
}

function firstLine(err: unknown): string {
  const text = err instanceof Error ? err.message : String(err);
  return text.split("\n")[0] ?? text;
}

function policyApplies(p: CompiledPolicy, req: AccessRequest): boolean {
  if (p.actions && !p.actions.has(req.action)) return false;
  const res = req.resource;
  // A resource without a classification is treated as confidential (the riskier assumption).
  const classification = res.classification ?? "confidential";
  for (const t of p.resources) {
    if ((t.type === res.type || t.type === "*") && (!t.id || t.id.test(res.id)) && (!t.classification || t.classification.has(classification))) return true;
  }
  const r = req.request;
  if (r && p.routes.length > 0) {
    for (const t of p.routes) {
      if (t.host && (r.host === undefined || !t.host.test(r.host.toLowerCase()))) continue;
      if (t.path && (r.path === undefined || !t.path.test(r.path))) continue;
      if (t.methods && (r.method === undefined || !t.methods.has(r.method.toUpperCase()))) continue;
      return true;
    }
  }
  return false;
}

/**
 * The policies that apply to `req`: those of its resource type, of any type, and of its host's
 * routes (in that order, each once). Only these indexed candidates are matched in full.
 */
export function applicablePolicies(set: CompiledPolicySet, req: AccessRequest): CompiledPolicy[] {
  const out: CompiledPolicy[] = [];
  collect(set.byType.get(req.resource.type), req, out);
  collect(set.byType.get("*"), req, out);
  const r = req.request;
  if (r !== undefined && set.withRoutes.length > 0) {
    if (r.host !== undefined) collect(set.routesByHost.get(r.host.toLowerCase()), req, out);
    collect(set.routesAnyHost, req, out);
  }
  return out;
}

function collect(list: CompiledPolicy[] | undefined, req: AccessRequest, out: CompiledPolicy[]): void {
  if (list === undefined) return;
  for (const p of list) {
    // A policy is in several lists only when it has several targets; the output is short.
    if (policyApplies(p, req) && !out.includes(p)) out.push(p);
  }
}

interface Missing {
  acr?: string;
  maxAge?: number;
  device?: Array<"registered" | "managed" | "compliant">;
  approval?: boolean;
  count: number;
}

function unmet(req: CompiledRequirements, input: AccessRequest, now: number, grant: { id: string; expiresAt: string } | undefined): Missing {
  const m: Missing = { count: 0 };
  if (req.acr && assuranceOf(input.subject.acr) < ASSURANCE_LEVELS.indexOf(req.acr)) {
    m.acr = ACR_URIS[req.acr];
    m.count++;
  }
  if (req.maxAgeSeconds !== undefined) {
    const at = input.subject.auth_time;
    if (typeof at !== "number" || now / 1000 - at > req.maxAgeSeconds) {
      m.maxAge = req.maxAgeSeconds;
      m.count++;
    }
  }
  if (req.device) {
    const d = input.device;
    const lacking = req.device.filter((flag) => d?.[flag] !== true);
    if (lacking.length > 0) {
      m.device = lacking;
      m.count++;
    }
  }
  if (req.approval && !grant) {
    m.approval = true;
    m.count++;
  }
  return m;
}

function describe(m: Missing): string {
  const parts: string[] = [];
  if (m.acr) parts.push(`authentication at ${m.acr}`);
  if (m.maxAge !== undefined) parts.push(`an authentication at most ${m.maxAge} s old`);
  if (m.device) parts.push(`a device that is ${m.device.join(", ")}`);
  if (m.approval) parts.push("a just-in-time approval");
  return parts.join(", ");
}

/** The CEL view of the request: every signal as given, plus derived time and zones (lazily). */
function activation(input: AccessRequest, risk: RiskAssessment, now: number, hooks: EvaluationHooks): Record<string, unknown> {
  return {
    subject: new SubjectView(input.subject),
    device: new DeviceView(input.device),
    request: new RequestView(input.request, now, hooks.zonesOf),
    resource: new ResourceView(input.resource),
    risk: new RiskView(risk),
    action: input.action,
  };
}

/**
 * The relationship questions of one decision: each distinct (relation, object) is asked once,
 * however many rules ask it, and recorded once with its answer and path.
 */
class RelationshipAsker {
  readonly uses: RelationshipUse[] = [];
  /** A failure of the relationship engine itself (not a policy mistake): the decision cannot be made. */
  failure: unknown;
  #context: Record<string, unknown> | undefined;
  constructor(
    private readonly hooks: EvaluationHooks,
    private readonly input: AccessRequest,
    private readonly object: string,
    private readonly now: number,
  ) {}

  check(relation: string, other: string | undefined): boolean {
    const target = other ?? this.object;
    for (const u of this.uses) if (u.relation === relation && u.object === target) return u.allowed;
    // current_time lets time-bound tuples (just-in-time grants) expire without anyone deleting them.
    this.#context ??= { ...this.input.context, current_time: isoTime(this.now) };
    const user = this.input.subject.id;
    let a: RelationshipAnswer;
    try {
      a = this.hooks.check(target, relation, user, this.#context);
    } catch (err) {
      this.failure ??= err;
      throw err;
    }
    this.uses.push(a.why !== undefined ? { object: target, relation, user, allowed: a.allowed, path: a.why } : { object: target, relation, user, allowed: a.allowed });
    return a.allowed;
  }
}

interface Candidate {
  p: CompiledPolicy;
  rule: CompiledRule;
  req: CompiledRequirements | undefined;
}

interface Judgement {
  denied: boolean;
  candidates: Candidate[];
}

/**
 * Runs the rules of the applicable policies: deny rules first, since one that holds decides
 * (deny wins) and then the allow rules, and the relationship checks they would make, are not
 * needed. Otherwise every allow rule is judged: which hold, and with what requirements.
 */
function judgeRules(policies: CompiledPolicy[], vars: Record<string, unknown>, risk: RiskAssessment, asker: RelationshipAsker, rules: RuleTrace[], reasons: string[]): Judgement {
  let denied = false;
  for (const p of policies) {
    for (const rule of p.denyRules) {
      const { holds, problem } = judge(rule, vars, asker);
      if (!holds && problem === undefined) continue;
      denied = true;
      const reason = problem !== undefined ? `cannot be evaluated (${problem}): treated as matching` : undefined;
      rules.push(reason ? { policy: p.name, rule: rule.name, effect: "deny", outcome: "unevaluable", reason } : { policy: p.name, rule: rule.name, effect: "deny", outcome: "matched" });
      reasons.push(`denied by ${p.name}/${rule.name}${problem !== undefined ? ` (a signal it needs is missing: ${problem})` : ""}`);
    }
  }
  const candidates: Candidate[] = [];
  if (denied) return { denied, candidates };
  for (const p of policies) {
    for (const rule of p.allowRules) {
      const { holds, problem } = judge(rule, vars, asker);
      if (problem !== undefined) {
        rules.push({ policy: p.name, rule: rule.name, effect: "allow", outcome: "unevaluable", reason: `cannot be evaluated (${problem}): treated as not matching` });
        continue;
      }
      if (!holds) continue;
      if (rule.byRisk) {
        const req = rule.byRisk[risk.level];
        if (req === undefined || req === "deny") {
          rules.push({ policy: p.name, rule: rule.name, effect: "allow", outcome: "refused_at_risk", reason: `refused at ${risk.level} risk` });
          reasons.push(`${p.name}/${rule.name} does not allow access at ${risk.level} risk (score ${risk.score})`);
          continue;
        }
        candidates.push({ p, rule, req });
      } else candidates.push({ p, rule, req: rule.require });
    }
  }
  return { denied, candidates };
}

/** Whether a rule's condition holds; `problem` when it cannot be evaluated (a missing signal). */
function judge(rule: CompiledRule, vars: Record<string, unknown>, asker: RelationshipAsker): { holds: boolean; problem?: string } {
  if (rule.when === undefined) return { holds: true };
  let result: { holds: boolean; problem?: string };
  try {
    result = { holds: rule.when(vars) === true };
  } catch (err) {
    result = { holds: false, problem: firstLine(err) };
  }
  // The relationship engine failing is not the rule's problem (even when CEL absorbed the error
  // in `||`): no decision can be made.
  if (asker.failure !== undefined) throw asker.failure;
  return result;
}

export function evaluate(set: CompiledPolicySet, input: AccessRequest, risk: RiskAssessment, now: number, hooks: EvaluationHooks): Evaluation {
  const rules: RuleTrace[] = [];
  const reasons: string[] = [];
  const policies = applicablePolicies(set, input);
  if (policies.length === 0) {
    return { decision: "deny", rules, obligations: [], relationships: [], reasons: ["no access policy applies to this resource and action"] };
  }
  const object = `${input.resource.type}:${input.resource.id}`;
  const asker = new RelationshipAsker(hooks, input, object, now);
  const relationships = asker.uses;
  const vars = activation(input, risk, now, hooks);
  // A missing signal is an error in CEL, and errors are part of normal operation here: their
  // stack traces would cost more than the rule itself and are never looked at.
  const stackTraceLimit = Error.stackTraceLimit;
  Error.stackTraceLimit = 0;
  let judged: Judgement;
  try {
    judged = withCheckScope(asker, () => judgeRules(policies, vars, risk, asker, rules, reasons));
  } finally {
    Error.stackTraceLimit = stackTraceLimit;
  }
  const { denied, candidates } = judged;
  if (denied) return { decision: "deny", rules, obligations: [], relationships, reasons };
  if (candidates.length === 0) {
    if (reasons.length === 0) reasons.push("no rule of the applicable policies allows this request");
    return { decision: "deny", rules, obligations: [], relationships, reasons };
  }
  const grant = hooks.activeGrant?.(input.subject.id, object, input.action, now);
  let best: { c: Candidate; m: Missing } | undefined;
  for (const c of candidates) {
    const m = c.req ? unmet(c.req, input, now, grant) : { count: 0 };
    if (m.count === 0) {
      rules.push({ policy: c.p.name, rule: c.rule.name, effect: "allow", outcome: "matched" });
      const obligations: Obligation[] = (c.req?.notify ?? []).map((to) => ({ type: "notify", to }));
      reasons.push(`allowed by ${c.p.name}/${c.rule.name}${grant && c.req?.approval ? ` with just-in-time grant ${grant.id}` : ""}`);
      const out: Evaluation = { decision: "allow", rules, obligations, relationships, reasons };
      if (grant && c.req?.approval) out.grant = grant;
      return out;
    }
    rules.push({ policy: c.p.name, rule: c.rule.name, effect: "allow", outcome: "requirements_unmet", reason: `needs ${describe(m)}` });
    // Fewest missing wins; among equals, one that needs no approval (step-up is self-service).
    if (!best || m.count < best.m.count || (m.count === best.m.count && !m.approval && best.m.approval)) best = { c, m };
  }
  const { c, m } = best!;
  reasons.push(`${c.p.name}/${c.rule.name} needs ${describe(m)}`);
  if (m.acr !== undefined || m.maxAge !== undefined || m.device !== undefined) {
    const challenge: Challenge = {};
    if (m.acr !== undefined) challenge.acr = m.acr;
    if (m.maxAge !== undefined) challenge.max_age = m.maxAge;
    if (m.device !== undefined) challenge.device = m.device;
    return { decision: "challenge", rules, challenge, obligations: [], relationships, reasons };
  }
  const approval = c.req!.approval!;
  return {
    decision: "pending",
    rules,
    approval: { policy: c.p.name, rule: c.rule.name, approvers: approval.approvers, durationSeconds: approval.durationSeconds },
    obligations: (c.req?.notify ?? []).map((to) => ({ type: "notify", to })),
    relationships,
    reasons,
  };
}
