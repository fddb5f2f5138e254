/**
 * The decision point's JitAccess over the JIT service: grants in force from its in-memory index,
 * approvals a rule needs filed as JIT requests, and `notify` obligations sent as `access.notice`
 * events through the same outbox (and so the same signed webhooks) as JIT's own events.
 *
 * Who a notice goes to:
 *   manager  → the subject's managers in the relationship graph, resolved exactly as JIT resolves
 *              `approvers: { manager: true }` (approvers.ts);
 *   owner    → `resource.owner` of the request;
 *   security → the configured security recipients.
 * A role that names nobody (no manager recorded, no owner given, a model without the relation) is
 * reported through `onProblem` and skipped: a notice is a record for people, and failing the
 * decision because nobody could be named would only hide the request from everyone. Storage
 * failures do propagate: an obligation that cannot be recorded is not silently dropped.
 */
import { TenetError } from "../../../errors.js";
import { DEFAULT_APPROVER_OPTIONS, resolveApprovers, type ApproverOptions } from "../../jit/approvers.js";
import { MAX_TEXT, subject } from "../../jit/validate.js";
import type { JitService } from "../../jit/service.js";
import type { PolicyService } from "../../service.js";
import type { JitAccess } from "../decision-point.js";
import type { ApprovalNeeded, Obligation } from "../evaluate.js";
import type { AccessRequest } from "../types.js";

export const ACCESS_NOTICE = "access.notice";

export interface JitAccessOptions {
  /** Recipients of `notify: [security]` (subjects such as `user:secops`). */
  security?: readonly string[];
  /** Must match the JIT service's approver options, so `manager` means the same in both. */
  approvers?: Partial<ApproverOptions>;
  /** A notice role that named nobody, or a notice with no recipient at all. */
  onProblem?: (message: string) => void;
}

// Free text may hold line breaks and tabs (as JIT's own check allows), no other control characters.
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f]/g;

export class ServiceJitAccess implements JitAccess {
  readonly #jit: JitService;
  readonly #policy: Pick<PolicyService, "listUsers">;
  readonly #security: readonly string[];
  readonly #approvers: ApproverOptions;
  readonly #onProblem: (message: string) => void;
  /** One load of a store's grants at a time, however many decisions wait for it. */
  readonly #loading = new Map<string, Promise<void>>();

  constructor(jit: JitService, policy: Pick<PolicyService, "listUsers">, opts: JitAccessOptions = {}) {
    if (jit === null || typeof jit !== "object" || typeof jit.activeGrantNow !== "function") throw new TypeError("jit must be a JitService");
    if (policy === null || typeof policy !== "object" || typeof policy.listUsers !== "function") throw new TypeError("policy must be a PolicyService");
    this.#jit = jit;
    this.#policy = policy;
    this.#security = (opts.security ?? []).map((s, i) => subject(s, `security[${i}]`));
    this.#approvers = { ...DEFAULT_APPROVER_OPTIONS, ...opts.approvers };
    this.#onProblem = opts.onProblem ?? (() => undefined);
  }

  activeGrantNow(storeId: string, subjectId: string, object: string, action: string, now: number): { id: string; expiresAt: string } | null | undefined {
    const g = this.#jit.activeGrantNow(storeId, subjectId, object, action, now);
    // Only what a decision shows: the rest of the grant record stays with the JIT API.
    return g ? { id: g.id, expiresAt: g.expiresAt } : g;
  }

  prepare(storeId: string): Promise<void> {
    let pending = this.#loading.get(storeId);
    if (pending === undefined) {
      pending = this.#jit.refresh(storeId).finally(() => this.#loading.delete(storeId));
      this.#loading.set(storeId, pending);
    }
    return pending;
  }

  async requestApproval(storeId: string, req: AccessRequest, needed: ApprovalNeeded, reason: string): Promise<{ id: string; approvers: string[] }> {
    // A rule may ask for longer than this server allows: the grant is shortened (less access,
    // never more) rather than the decision failing on a limit the requester cannot change.
    const seconds = Math.max(1, Math.min(Math.ceil(needed.durationSeconds), Math.floor(this.#jit.maxDurationMs / 1000)));
    const { request } = await this.#jit.open({
      storeId,
      requester: req.subject.id,
      resource: `${req.resource.type}:${req.resource.id}`,
      action: req.action,
      reason: clip(reason.trim() !== "" ? reason : `access policy ${needed.policy}/${needed.rule} requires an approval`),
      duration: `${seconds}s`,
      approvers: needed.approvers,
    });
    return { id: request.id, approvers: request.approvers };
  }

  async notify(storeId: string, req: AccessRequest, obligations: Obligation[], decisionId: string): Promise<void> {
    const roles = [...new Set(obligations.filter((o) => o.type === "notify").map((o) => o.to))];
    if (roles.length === 0) return;
    const byRole: Record<string, string[]> = {};
    for (const role of roles) byRole[role] = await this.#recipients(role, storeId, req);
    const recipients = [...new Set(Object.values(byRole).flat())].sort();
    if (recipients.length === 0) {
      this.#onProblem(`decision ${decisionId}: the notice to ${roles.join(", ")} has no recipient, so nobody is told`);
      return;
    }
    const data: Record<string, unknown> = {
      decision_id: decisionId,
      subject: req.subject.id,
      resource: `${req.resource.type}:${req.resource.id}`,
      action: req.action,
      recipients_by_role: byRole,
    };
    if (req.request?.ip !== undefined) data.ip = req.request.ip;
    await this.#jit.notify({ type: ACCESS_NOTICE, recipients, storeId, data });
  }

  async #recipients(role: string, storeId: string, req: AccessRequest): Promise<string[]> {
    switch (role) {
      case "security":
        if (this.#security.length === 0) this.#onProblem("a notice to security was asked for, but no security recipients are configured (notify.security)");
        return [...this.#security];
      case "owner": {
        const owner = req.resource.owner;
        if (owner === undefined) {
          this.#onProblem(`a notice to the owner of ${req.resource.type}:${req.resource.id} was asked for, but the request names no resource.owner`);
          return [];
        }
        try {
          return [subject(owner, "resource.owner")];
        } catch (err) {
          this.#onProblem(`the owner of ${req.resource.type}:${req.resource.id} cannot be notified: ${(err as Error).message}`);
          return [];
        }
      }
      case "manager":
        try {
          const found = await resolveApprovers(this.#policy, storeId, req.subject.id, { manager: true }, this.#approvers);
          if (found.length === 0) this.#onProblem(`a notice to the manager of ${req.subject.id} was asked for, but no manager is recorded`);
          return found;
        } catch (err) {
          // A model without the manager relation, or a subject it cannot hold: say so, tell the others.
          if (!(err instanceof TenetError) || err.status >= 500 || err.code === "store_not_found") throw err;
          this.#onProblem(`the manager of ${req.subject.id} cannot be notified: ${err.message}`);
          return [];
        }
      default:
        this.#onProblem(`notices to '${role}' are not supported`);
        return [];
    }
  }
}

/** A JIT reason: at most MAX_TEXT characters, without control characters. */
function clip(text: string): string {
  const clean = text.replace(CONTROL, " ");
  return clean.length <= MAX_TEXT ? clean : `${clean.slice(0, MAX_TEXT - 1)}…`;
}
