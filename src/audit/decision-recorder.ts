/**
 * The decision point's recorder over the audit log: each access decision becomes an OCSF API
 * Activity event, appended before the decision is returned (the append resolves only once the
 * entry is stored; a failure rejects, and the decision point fails closed).
 */
import type { AccessDecision, DecisionOrigin, DecisionRecorder } from "../policy/access/decision-point.js";
import type { AccessRequest } from "../policy/access/types.js";
import { type AuditEventInput, decisionEvent, type Sensitive } from "./events.js";

/** What the recorder needs of the log. */
export interface AuditAppender {
  append(input: AuditEventInput): Promise<{ seq: number; time: string }>;
}

export class AuditDecisionRecorder implements DecisionRecorder {
  constructor(
    private readonly log: AuditAppender,
    private readonly sensitive: Sensitive | undefined,
  ) {}

  async record(d: AccessDecision, req: AccessRequest, origin: DecisionOrigin): Promise<void> {
    await this.log.append(
      decisionEvent(
        {
          decision: d.decision,
          decisionId: d.decision_id,
          storeId: d.store_id,
          subject: { id: req.subject.id, groups: req.subject.groups, acr: req.subject.acr, amr: req.subject.amr },
          resource: { type: req.resource.type, id: req.resource.id, classification: req.resource.classification },
          action: req.action,
          policyVersion: d.policy_version,
          rules: d.rules,
          risk: d.risk,
          reasons: d.reasons,
          relationships: d.relationships,
          challenge: d.challenge,
          pending: d.pending,
          obligations: d.obligations,
          request: req.request,
          device: req.device,
          reusedFrom: d.reused_from,
          via: origin.via,
          client: origin.client,
          context: req.context,
        },
        this.sensitive,
      ),
    );
  }
}
