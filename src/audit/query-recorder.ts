/**
 * Optional recording of relationship queries (OpenFGA Check and BatchCheck, AuthZEN evaluations
 * on stores without access policies): the lookups a PEP makes many times per request. Off by
 * default (`audit.relationshipQueries`), because they are the highest-volume calls of all; when
 * on, each answer waits for its record, like a decision of the decision point.
 */
import { type AuditEventInput, decisionEvent, type Sensitive } from "./events.js";

export interface RelationshipQuery {
  storeId: string;
  object: string;
  relation: string;
  user: string;
  context?: Record<string, unknown> | undefined;
}

export class RelationshipQueryRecorder {
  constructor(
    private readonly log: { append(input: AuditEventInput): Promise<unknown> },
    private readonly sensitive: Sensitive | undefined,
  ) {}

  async record(q: RelationshipQuery, allowed: boolean, via: string, client?: string): Promise<void> {
    const colon = q.object.indexOf(":");
    await this.log.append(
      decisionEvent(
        {
          decision: allowed ? "allow" : "deny",
          decisionId: "",
          storeId: q.storeId,
          subject: { id: q.user },
          resource: { type: colon > 0 ? q.object.slice(0, colon) : q.object, id: colon > 0 ? q.object.slice(colon + 1) : "" },
          action: q.relation,
          rules: [],
          reasons: [allowed ? `${q.user} has ${q.relation} on ${q.object}` : `${q.user} does not have ${q.relation} on ${q.object}`],
          via,
          client,
          context: q.context,
        },
        this.sensitive,
      ),
    );
  }
}
