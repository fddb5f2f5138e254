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
import { withCheckScope } from "./cel-env.js";
import type { CompiledPolicy, CompiledPolicySet, CompiledRequirements, CompiledRule } from "./compile.js";
import { ACR_URIS, type AccessRequest, ASSURANCE_LEVELS, type AssuranceLevel, type RiskAssessment } from "./types.js";

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

/** The policies that apply to `req`, in set order. */
export function applicablePolicies(set: CompiledPolicySet, req: AccessRequest): CompiledPolicy[] {
  const typed = set.byType.get(req.resource.type);
  const any = set.byType.get("*");
  const out: CompiledPolicy[] = [];
  const seen = new Set<CompiledPolicy>();
  for (const list of [typed, any, req.request ? set.withRoutes : undefined]) {
    if (!list) continue;
    for (const p of list) {
      if (!seen.has(p) && policyApplies(p, req)) {
        seen.add(p);
        out.push(p);
      }
    }
  }
  return out;
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

/** The CEL view of the request: every signal as given, plus derived time and zones. */
function activation(input: AccessRequest, risk: RiskAssessment, now: number, hooks: EvaluationHooks): Record<string, unknown> {
  const r = input.request ?? {};
  const time = r.time !== undefined ? Date.parse(r.time) : now;
  const request: Record<string, unknown> = { ...r };
  if (Number.isFinite(time)) {
    const d = new Date(time);
    request.hour = d.getUTCHours();
    request.weekday = d.getUTCDay();
  }
  if (r.ip !== undefined && hooks.zonesOf) request.zones = hooks.zonesOf(r.ip);
  return {
    subject: input.subject,
    device: input.device ?? {},
    request,
    resource: input.resource,
    risk: { score: risk.score, level: risk.level, reasons: risk.reasons.map((x) => x.signal) },
    action: input.action,
  };
}

export function evaluate(set: CompiledPolicySet, input: AccessRequest, risk: RiskAssessment, now: number, hooks: EvaluationHooks): Evaluation {
  const rules: RuleTrace[] = [];
  const relationships: RelationshipUse[] = [];
  const reasons: string[] = [];
  const policies = applicablePolicies(set, input);
  if (policies.length === 0) {
    return { decision: "deny", rules, obligations: [], relationships, reasons: ["no access policy applies to this resource and action"] };
  }
  const object = `${input.resource.type}:${input.resource.id}`;
  const context = { ...(input.context ?? {}), current_time: new Date(now).toISOString() };
  const scope = {
    check: (relation: string, other: string | undefined): boolean => {
      const target = other ?? object;
      const a = hooks.check(target, relation, input.subject.id, context);
      relationships.push(a.why !== undefined ? { object: target, relation, user: input.subject.id, allowed: a.allowed, path: a.why } : { object: target, relation, user: input.subject.id, allowed: a.allowed });
      return a.allowed;
    },
  };
  const vars = activation(input, risk, now, hooks);
  let denied = false;
  const candidates: Array<{ p: CompiledPolicy; rule: CompiledRule; req: CompiledRequirements | undefined }> = [];
  withCheckScope(scope, () => {
    for (const p of policies) {
      for (const rule of p.rules) {
        let holds: boolean;
        let problem: string | undefined;
        if (rule.when === undefined) holds = true;
        else {
          try {
            holds = rule.when(vars) === true;
          } catch (err) {
            holds = false;
            problem = firstLine(err);
          }
        }
        if (rule.effect === "deny") {
          if (holds || problem !== undefined) {
            denied = true;
            const reason = problem !== undefined ? `cannot be evaluated (${problem}): treated as matching` : undefined;
            rules.push(reason ? { policy: p.name, rule: rule.name, effect: "deny", outcome: "unevaluable", reason } : { policy: p.name, rule: rule.name, effect: "deny", outcome: "matched" });
            reasons.push(`denied by ${p.name}/${rule.name}${problem !== undefined ? ` (a signal it needs is missing: ${problem})` : ""}`);
          }
          continue;
        }
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
  });
  if (denied) return { decision: "deny", rules, obligations: [], relationships, reasons };
  if (candidates.length === 0) {
    if (reasons.length === 0) reasons.push("no rule of the applicable policies allows this request");
    return { decision: "deny", rules, obligations: [], relationships, reasons };
  }
  const grant = hooks.activeGrant?.(input.subject.id, object, input.action, now);
  let best: { c: (typeof candidates)[number]; m: Missing } | undefined;
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
