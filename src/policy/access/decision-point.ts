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
import { TenetError } from "../../errors.js";
import { ulid } from "../../util/ulid.js";
import type { PolicyService } from "../service.js";
import type { CompiledPolicySet } from "./compile.js";
import { type ApprovalNeeded, type Challenge, evaluate, type Evaluation, type EvaluationHooks, type Obligation, type RelationshipUse, type RuleTrace } from "./evaluate.js";
import type { AccessPolicyStore, PolicyHead } from "./policy-store.js";
import type { AccessRequest, RiskAssessment } from "./types.js";

/** Computes a risk assessment for a request (the risk engine). */
export interface RiskAssessor {
  assess(req: AccessRequest, now: number): RiskAssessment;
}

/** Just-in-time access, as the decision point uses it. */
export interface JitAccess {
  activeGrantNow(storeId: string, subject: string, object: string, action: string, now: number): { id: string; expiresAt: string } | undefined;
  /** Files (or finds the open) request for the approval a rule needs. */
  requestApproval(storeId: string, req: AccessRequest, needed: ApprovalNeeded, reason: string): Promise<{ id: string; approvers: string[] }>;
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
  assess: () => ({ score: 0, level: "low", reasons: [] }),
};

export class AccessDecisionPoint {
  private readonly stores = new Map<string, Loaded>();
  private readonly loading = new Map<string, Promise<Loaded>>();
  private readonly compiledCache = new Map<string, CompiledPolicySet>();
  private readonly now: () => number;
  private readonly risk: RiskAssessor;

  constructor(
    private readonly deps: {
      policy: PolicyService;
      policies: AccessPolicyStore;
      risk?: RiskAssessor | undefined;
      jit?: JitAccess | undefined;
      zonesOf?: ((ip: string) => string[]) | undefined;
      now?: () => number;
      /** How long a loaded head is trusted before it is read again (ms). */
      refreshMs?: number;
    },
  ) {
    this.now = deps.now ?? Date.now;
    this.risk = deps.risk ?? NO_RISK_ENGINE;
  }

  /** True when the store has live access policies (then AuthZEN evaluations go through them). */
  async hasPolicies(storeId: string): Promise<boolean> {
    return (await this.load(storeId)).live !== undefined;
  }

  /** Forgets the cached head of a store (after an apply, rollback or promote). */
  invalidate(storeId: string): void {
    this.stores.delete(storeId);
  }

  shadowReport(storeId: string): ShadowReport | undefined {
    return this.stores.get(storeId)?.report;
  }

  /**
   * A decision, synchronously, when the store's policies are loaded and nothing needs filing (no
   * pending approval): the in-process fast path. Undefined otherwise; then call `decide`.
   */
  decideNow(storeId: string, req: AccessRequest): AccessDecision | undefined {
    const loaded = this.stores.get(storeId);
    if (!loaded || this.now() - loaded.loadedAt > (this.deps.refreshMs ?? 1000)) return undefined;
    const d = this.evaluate(storeId, loaded, req);
    return d.evaluation.decision === "pending" ? undefined : d.decision;
  }

  async decide(storeId: string, req: AccessRequest): Promise<AccessDecision> {
    const loaded = await this.load(storeId);
    const { decision, evaluation } = this.evaluate(storeId, loaded, req);
    if (evaluation.decision === "pending") {
      if (!this.deps.jit) {
        decision.decision = "deny";
        decision.reasons.push("just-in-time access is not available on this server, so the approval cannot be requested");
      } else {
        const filed = await this.deps.jit.requestApproval(storeId, req, evaluation.approval!, evaluation.reasons.join("; "));
        decision.pending = { request_id: filed.id, approvers: filed.approvers };
      }
    }
    return decision;
  }

  private evaluate(storeId: string, loaded: Loaded, req: AccessRequest): { decision: AccessDecision; evaluation: Evaluation } {
    const now = this.now();
    const risk = req.risk ?? this.risk.assess(req, now);
    const hooks = this.hooks(storeId);
    const evaluation: Evaluation = loaded.live
      ? evaluate(loaded.live, req, risk, now, hooks)
      : { decision: "deny", rules: [], obligations: [], relationships: [], reasons: ["this store has no access policies: nothing allows the request"] };
    const decision: AccessDecision = {
      decision: evaluation.decision,
      decision_id: ulid(now),
      time: new Date(now).toISOString(),
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
    if (loaded.shadow && loaded.head.shadow !== undefined) {
      const s = evaluate(loaded.shadow, req, risk, now, hooks);
      decision.shadow = { policy_version: loaded.head.shadow, decision: s.decision, rules: s.rules };
      const r = loaded.report;
      r.evaluated++;
      if (s.decision !== evaluation.decision) {
        r.changed++;
        const key = `${evaluation.decision}→${s.decision}`;
        r.transitions[key] = (r.transitions[key] ?? 0) + 1;
        r.examples.unshift({
          decision_id: decision.decision_id,
          time: decision.time,
          subject: req.subject.id,
          resource: `${req.resource.type}:${req.resource.id}`,
          action: req.action,
          live: evaluation.decision,
          shadow: s.decision,
        });
        if (r.examples.length > 100) r.examples.length = 100;
      }
    }
    return { decision, evaluation };
  }

  private hooks(storeId: string): EvaluationHooks {
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
    if (jit) hooks.activeGrant = (subject, object, action, now) => jit.activeGrantNow(storeId, subject, object, action, now);
    if (this.deps.zonesOf) hooks.zonesOf = this.deps.zonesOf;
    return hooks;
  }

  /** The store's head and compiled sets, read again after `refreshMs`. */
  private async load(storeId: string): Promise<Loaded> {
    const cached = this.stores.get(storeId);
    if (cached && this.now() - cached.loadedAt <= (this.deps.refreshMs ?? 1000)) return cached;
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
