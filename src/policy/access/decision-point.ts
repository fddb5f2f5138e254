/**
 * The access decision point: relationships (the policy engine), access policies, risk and
 * just-in-time access combined into one decision per request, with everything needed to explain
 * it from its record alone (decision id, policy version, the rules that matched or could not be
 * evaluated, the relationship paths used, the risk reasons, what is missing).
 *
 * Used in-process by enforcement points and served over AuthZEN and a native endpoint.
 * Compiled policy sets are cached per store and version; `refresh()` picks up applies made by
 * other processes. A shadow version, when set, is evaluated beside the live one and the
 * decisions it would change are counted and kept (most recent first) for the shadow report.
 */
import { DecisionReuse } from "./decision-reuse.js";
import { TenetError } from "../../errors.js";
import { isoTime } from "../../util/iso-time.js";
import { ulid } from "../../util/ulid.js";
import type { PolicyService } from "../service.js";
import type { CompiledPolicySet } from "./compile.js";
import { type ApprovalNeeded, type Challenge, evaluate, type Evaluation, type EvaluationHooks, type Obligation, type RelationshipUse, type RuleTrace } from "./evaluate.js";
import type { AccessPolicyStore, PolicyHead } from "./policy-store.js";
import type { AccessRequest, RiskAssessment, RiskLevel } from "./types.js";

/** Computes a risk assessment for a request (the risk engine). */
export interface RiskAssessor {
  /** From memory; undefined when something it needs (the subject's history) is not loaded: then `prepare`. */
  assessNow(req: AccessRequest, now: number): RiskAssessment | undefined;
  /** Loads what `assessNow` needs for this request. */
  prepare(req: AccessRequest): Promise<void>;
}

/** Just-in-time access, as the decision point uses it. */
export interface JitAccess {
  /** The active grant from memory: null = none; undefined = the store's grants are not loaded (then `prepare`). */
  activeGrantNow(storeId: string, subject: string, object: string, action: string, now: number): { id: string; expiresAt: string } | null | undefined;
  prepare(storeId: string): Promise<void>;
  /** Files (or finds the open) request for the approval a rule needs. */
  requestApproval(storeId: string, req: AccessRequest, needed: ApprovalNeeded, reason: string): Promise<{ id: string; approvers: string[] }>;
  /** Carries out the decision's `notify` obligations (through the webhook outbox). */
  notify(storeId: string, req: AccessRequest, obligations: Obligation[], decisionId: string): Promise<void>;
}

/** Who asked for a decision: the API (`access.decide`, `authzen.evaluation`, ...) and its credential. */
export interface DecisionOrigin {
  via: string;
  client?: string | undefined;
  /** The same answer may be reused for an identical question for a moment (the proxy's cache). */
  reuse?: boolean | undefined;
}

/** Records decisions (the audit log). A decision leaves the decision point only once recorded. */
export interface DecisionRecorder {
  record(decision: AccessDecision, req: AccessRequest, origin: DecisionOrigin): Promise<void>;
}

export interface AccessDecision {
  decision: "allow" | "deny" | "challenge" | "pending";
  decision_id: string;
  time: string;
  store_id: string;
  /** The live policy version that decided (absent when the store has no policies). */
  policy_version?: number;
  rules: RuleTrace[];
  challenge?: Challenge;
  pending?: { request_id: string; approvers: string[] };
  grant?: { id: string; expiresAt: string };
  obligations: Obligation[];
  relationships: RelationshipUse[];
  risk: RiskAssessment;
  reasons: string[];
  /** This answer reuses an identical question's decision of a moment ago (decision-reuse.ts). */
  reused_from?: string;
  /** What the shadow version decided, when one is set. */
  shadow?: { policy_version: number; decision: Evaluation["decision"]; rules: RuleTrace[] };
}

export interface ShadowReport {
  storeId: string;
  shadowVersion: number | undefined;
  liveVersion: number | undefined;
  evaluated: number;
  changed: number;
  /** "allow→deny" → count. */
  transitions: Record<string, number>;
  /** The most recent decisions that would change (newest first, at most 100). */
  examples: Array<{ decision_id: string; time: string; subject: string; resource: string; action: string; live: string; shadow: string }>;
}

interface Loaded {
  head: PolicyHead;
  live: CompiledPolicySet | undefined;
  shadow: CompiledPolicySet | undefined;
  report: ShadowReport;
  loadedAt: number;
}

/** Risk when no engine is configured: scored only by what is certainly known. */
const NO_RISK_ENGINE: RiskAssessor = {
  assessNow: () => ({ score: 0, level: "low", reasons: [] }),
  prepare: async () => undefined,
};

const LEVEL_RANK: Record<RiskLevel, number> = { low: 0, medium: 1, high: 2, critical: 3 };

/**
 * A risk assessment the caller brought, combined with the engine's own: the higher level and
 * score, and both sets of reasons. A caller can add risk, never take it away.
 */
function combineRisk(given: RiskAssessment, own: RiskAssessment): RiskAssessment {
  if (own.score === 0 && own.reasons.length === 0) return given;
  return {
    score: Math.max(given.score, own.score),
    level: LEVEL_RANK[own.level] > LEVEL_RANK[given.level] ? own.level : given.level,
    reasons: [...given.reasons, ...own.reasons.filter((r) => !given.reasons.some((g) => g.signal === r.signal))],
  };
}

/** One evaluation, or what has to be loaded before it can be made. */
type Attempt =
  | { ready: true; decision: AccessDecision; evaluation: Evaluation; shadow: Evaluation | undefined }
  | { ready: false; riskNeeded: boolean; grantsNeeded: boolean };

export class AccessDecisionPoint {
  private readonly stores = new Map<string, Loaded>();
  private readonly loading = new Map<string, Promise<Loaded>>();
  private readonly compiledCache = new Map<string, CompiledPolicySet>();
  private readonly now: () => number;
  private readonly risk: RiskAssessor;
  private readonly refreshMs: number;
  private readonly reuse: DecisionReuse<AccessDecision> | undefined;

  constructor(
    private readonly deps: {
      policy: PolicyService;
      policies: AccessPolicyStore;
      risk?: RiskAssessor | undefined;
      jit?: JitAccess | undefined;
      zonesOf?: ((ip: string) => string[]) | undefined;
      /** When set, every decision is recorded before it is returned; a failed record fails the decision. */
      audit?: DecisionRecorder | undefined;
      now?: () => number;
      /** How long a loaded head is trusted before it is read again (ms). */
      refreshMs?: number;
      /** How long an answer may be reused for an identical question asked with `reuse` (ms; 0 = never). */
      reuseMs?: number;
    },
  ) {
    this.now = deps.now ?? Date.now;
    this.risk = deps.risk ?? NO_RISK_ENGINE;
    this.refreshMs = deps.refreshMs ?? 1000;
    this.reuse = deps.reuseMs ? new DecisionReuse(deps.reuseMs, this.now) : undefined;
  }

  /** True when the store has live access policies (then AuthZEN evaluations go through them). */
  async hasPolicies(storeId: string): Promise<boolean> {
    return (await this.load(storeId)).live !== undefined;
  }

  /** Forgets the cached head of a store (after an apply, rollback or promote). */
  invalidate(storeId: string): void {
    this.stores.delete(storeId);
    this.reuse?.clear();
  }

  shadowReport(storeId: string): ShadowReport | undefined {
    return this.stores.get(storeId)?.report;
  }

  /**
   * A decision, synchronously, when everything it needs is in memory and nothing has to be filed
   * or sent (no pending approval, no notice): the in-process fast path. Undefined otherwise; then
   * call `decide`. A head older than `refreshMs` is reloaded in the background meanwhile. With an
   * audit log there is no synchronous path: a decision waits for its record.
   */
  decideNow(storeId: string, req: AccessRequest): AccessDecision | undefined {
    const loaded = this.stores.get(storeId);
    if (!loaded || this.deps.audit) return undefined;
    if (this.now() - loaded.loadedAt > this.refreshMs) {
      // Failures surface on the next `decide`, which awaits the same load.
      this.load(storeId).catch(() => undefined);
      return undefined;
    }
    const a = this.attempt(storeId, loaded, req);
    if (!a.ready || a.evaluation.decision === "pending" || (this.deps.jit && a.evaluation.decision === "allow" && hasNotice(a.evaluation))) return undefined;
    this.countShadow(loaded, req, a);
    return a.decision;
  }

  async decide(storeId: string, req: AccessRequest, origin: DecisionOrigin = { via: "in-process" }): Promise<AccessDecision> {
    const loaded = await this.load(storeId);
    // A shadow set is counted per evaluation (its report), so nothing is reused while one is set.
    const reuseKey = this.reuse && origin.reuse && !loaded.shadow ? this.reuse.key(storeId, loaded.head.live, this.deps.policy.revisionNow(storeId), req) : undefined;
    const reused = reuseKey ? this.reuse!.get(reuseKey) : undefined;
    if (reused) {
      const now = this.now();
      const decision: AccessDecision = { ...reused, decision_id: ulid(now), time: isoTime(now), reused_from: reused.decision_id };
      if (this.deps.audit) await this.deps.audit.record(decision, req, origin);
      return decision;
    }
    let a = this.attempt(storeId, loaded, req);
    // Each attempt says what it lacked first: the risk history, then (once risk is known and the
    // rules have run) the grants. Two loads at most.
    for (let round = 0; !a.ready && round < 2; round++) {
      await Promise.all([a.riskNeeded ? this.risk.prepare(req) : undefined, a.grantsNeeded ? this.deps.jit?.prepare(storeId) : undefined]);
      a = this.attempt(storeId, loaded, req);
    }
    if (!a.ready) throw new TenetError("unavailable", "the risk history or the just-in-time grants of this request could not be loaded; retry");
    const { decision, evaluation } = a;
    if (evaluation.decision === "pending") {
      if (!this.deps.jit) {
        decision.decision = "deny";
        decision.reasons.push("just-in-time access is not available on this server, so the approval cannot be requested");
      } else {
        const filed = await this.deps.jit.requestApproval(storeId, req, evaluation.approval!, evaluation.reasons.join("; "));
        decision.pending = { request_id: filed.id, approvers: filed.approvers };
      }
    }
    // The notice is queued before the answer leaves: an access the rule wanted reported is never
    // granted unreported (a failure here fails the decision). A pending request already goes to
    // its approvers, so only an allow sends it.
    if (this.deps.jit && decision.decision === "allow" && hasNotice(evaluation)) await this.deps.jit.notify(storeId, req, decision.obligations, decision.decision_id);
    // Fail closed: no decision leaves before its record is stored.
    if (this.deps.audit) await this.deps.audit.record(decision, req, origin);
    this.countShadow(loaded, req, a);
    if (reuseKey) this.reuse!.offer(reuseKey, decision, this.deps.jit !== undefined && hasNotice(evaluation));
    return decision;
  }

  /** Evaluates the live (and shadow) set, or says what must be loaded first. Records nothing. */
  private attempt(storeId: string, loaded: Loaded, req: AccessRequest): Attempt {
    const now = this.now();
    const own = this.risk.assessNow(req, now);
    let grantsNeeded = false;
    const hooks = this.hooks(storeId, () => (grantsNeeded = true));
    if (own === undefined) return { ready: false, riskNeeded: true, grantsNeeded };
    const risk = req.risk ? combineRisk(req.risk, own) : own;
    const evaluation: Evaluation = loaded.live
      ? evaluate(loaded.live, req, risk, now, hooks)
      : { decision: "deny", rules: [], obligations: [], relationships: [], reasons: ["this store has no access policies: nothing allows the request"] };
    const shadow = loaded.shadow ? evaluate(loaded.shadow, req, risk, now, hooks) : undefined;
    if (grantsNeeded) return { ready: false, riskNeeded: false, grantsNeeded };
    const decision: AccessDecision = {
      decision: evaluation.decision,
      decision_id: ulid(now),
      time: isoTime(now),
      store_id: storeId,
      rules: evaluation.rules,
      obligations: evaluation.obligations,
      relationships: evaluation.relationships,
      risk,
      reasons: evaluation.reasons,
    };
    if (loaded.head.live !== undefined) decision.policy_version = loaded.head.live;
    if (evaluation.challenge) decision.challenge = evaluation.challenge;
    if (evaluation.grant) decision.grant = evaluation.grant;
    if (shadow && loaded.head.shadow !== undefined) decision.shadow = { policy_version: loaded.head.shadow, decision: shadow.decision, rules: shadow.rules };
    return { ready: true, decision, evaluation, shadow };
  }

  /** Counts a decision that was answered in the shadow report. */
  private countShadow(loaded: Loaded, req: AccessRequest, a: Extract<Attempt, { ready: true }>): void {
    if (!a.shadow) return;
    const live = a.decision.decision;
    const r = loaded.report;
    r.evaluated++;
    if (a.shadow.decision === live) return;
    r.changed++;
    const key = `${live}→${a.shadow.decision}`;
    r.transitions[key] = (r.transitions[key] ?? 0) + 1;
    r.examples.unshift({
      decision_id: a.decision.decision_id,
      time: a.decision.time,
      subject: req.subject.id,
      resource: `${req.resource.type}:${req.resource.id}`,
      action: req.action,
      live,
      shadow: a.shadow.decision,
    });
    if (r.examples.length > 100) r.examples.length = 100;
  }

  private hooks(storeId: string, grantsNotLoaded: () => void): EvaluationHooks {
    const policy = this.deps.policy;
    const jit = this.deps.jit;
    const hooks: EvaluationHooks = {
      check: (object, relation, user, context) => {
        let r;
        try {
          r = policy.checkNow(storeId, { object, relation, user, context, explain: true });
        } catch (err) {
          // An unknown relation or type is the policy's mistake: it does not grant.
          if (err instanceof TenetError && err.status < 500) return { allowed: false, why: { error: err.code, message: err.message } };
          throw err;
        }
        if (r === undefined) throw new TenetError("unavailable", "the relationship index of this store is not loaded yet; retry");
        return r.why !== undefined ? { allowed: r.allowed, why: r.why } : { allowed: r.allowed };
      },
    };
    if (jit) {
      hooks.activeGrant = (subject, object, action, now) => {
        const g = jit.activeGrantNow(storeId, subject, object, action, now);
        if (g === undefined) grantsNotLoaded();
        return g ?? undefined;
      };
    }
    if (this.deps.zonesOf) hooks.zonesOf = this.deps.zonesOf;
    return hooks;
  }
  /** The store's head and compiled sets, read again after `refreshMs`. */
  private async load(storeId: string): Promise<Loaded> {
    const cached = this.stores.get(storeId);
    if (cached && this.now() - cached.loadedAt <= this.refreshMs) return cached;
    let pending = this.loading.get(storeId);
    if (!pending) {
      pending = (async () => {
        // The relationship index must be in memory for check() to answer synchronously.
        await this.deps.policy.warm(storeId);
        const head = await this.deps.policies.head(storeId);
        const prev = this.stores.get(storeId);
        const sameShadow = prev?.head.shadow === head.shadow && prev?.head.live === head.live;
        const loaded: Loaded = {
          head,
          live: head.live === undefined ? undefined : await this.compiledVersion(storeId, head.live),
          shadow: head.shadow === undefined ? undefined : await this.compiledVersion(storeId, head.shadow),
          report: sameShadow && prev ? prev.report : { storeId, shadowVersion: head.shadow, liveVersion: head.live, evaluated: 0, changed: 0, transitions: {}, examples: [] },
          loadedAt: this.now(),
        };
        this.stores.set(storeId, loaded);
        return loaded;
      })().finally(() => this.loading.delete(storeId));
      this.loading.set(storeId, pending);
    }
    return pending;
  }

  private async compiledVersion(storeId: string, v: number): Promise<CompiledPolicySet> {
    const key = `${storeId}/${v}`;
    let c = this.compiledCache.get(key);
    if (!c) {
      c = await this.deps.policies.compiled(storeId, v);
      this.compiledCache.set(key, c);
    }
    return c;
  }
}

function hasNotice(e: Evaluation): boolean {
  return e.obligations.some((o) => o.type === "notify");
}
