/**
 * Records changes (stores, models, relationships, access policies, API keys) in the audit log as
 * OCSF Entity Management events, with the acting principal. Domain services call it after the
 * change is committed: a change is never reported that did not happen. If the record cannot be
 * stored, the operation reports `audit_unavailable` (the change itself stands, and the failure
 * is on the audit metrics and logs).
 */
import { currentActor } from "./actor.js";
import { type AuditEventInput, changeEvent, type ChangeFacts, type Sensitive } from "./events.js";

export interface ChangeRecorder {
  record(change: Omit<ChangeFacts, "actor">): Promise<void>;
}

export class AuditChangeRecorder implements ChangeRecorder {
  constructor(
    private readonly log: { append(input: AuditEventInput): Promise<unknown> },
    private readonly sensitive: Sensitive | undefined,
  ) {}

  async record(change: Omit<ChangeFacts, "actor">): Promise<void> {
    await this.log.append(changeEvent({ ...change, actor: currentActor() }, this.sensitive));
  }
}
