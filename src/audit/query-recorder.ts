/**
 * Optional recording of relationship queries (OpenFGA Check, BatchCheck, ListObjects and
 * ListUsers, AuthZEN evaluations on stores without access policies): the lookups a PEP makes
 * many times per request. A list is recorded with what was asked and how many answers it got,
 * not the answers themselves (they can be thousands). Off by
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

/** ListObjects (`user` fixed, objects of `type` found) or ListUsers (`object` fixed, users of `userType` found). */
export type ListQuery =
  | { kind: "objects"; storeId: string; type: string; relation: string; user: string; found: number; context?: Record<string, unknown> | undefined }
  | { kind: "users"; storeId: string; object: string; relation: string; userType: string; found: number; context?: Record<string, unknown> | undefined };

export class RelationshipQueryRecorder {
  constructor(
    private readonly log: { append(input: AuditEventInput): Promise<unknown> },
    private readonly sensitive: Sensitive | undefined,
  ) {}

  async record(q: RelationshipQuery, allowed: boolean, via: string, client?: string): Promise<void> {
    const [type, id] = splitObject(q.object);
    await this.log.append(
      decisionEvent(
        {
          decision: allowed ? "allow" : "deny",
          decisionId: "",
          storeId: q.storeId,
          subject: { id: q.user },
          resource: { type, id },
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

  async recordList(q: ListQuery, via: string, client?: string): Promise<void> {
    const objects = q.kind === "objects";
    const subject = objects ? q.user : `${q.userType}:*`;
    const [type, id] = objects ? [q.type, "*"] : splitObject(q.object);
    const reason = objects ? `${q.found} ${q.type} objects on which ${q.user} has ${q.relation}` : `${q.found} ${q.userType} users with ${q.relation} on ${q.object}`;
    await this.log.append(
      decisionEvent(
        { decision: "allow", decisionId: "", storeId: q.storeId, subject: { id: subject }, resource: { type, id }, action: q.relation, rules: [], reasons: [reason], via, client, context: q.context },
        this.sensitive,
      ),
    );
  }
}

function splitObject(object: string): [string, string] {
  const colon = object.indexOf(":");
  return colon > 0 ? [object.slice(0, colon), object.slice(colon + 1)] : [object, ""];
}
