/**
 * Audit events in OCSF form (schema 1.3): what domain operations hand to the audit log.
 *
 * - Access decisions → API Activity (class 6003), the outcome in `actor.authorizations`
 *   (decision + policy), `status_id` success for allow, failure otherwise, and the risk in
 *   `risk_score` / `risk_level` / `risk_level_id` with the reasons in `unmapped.tenet`.
 * - Sign-ins and sign-in failures → Authentication (3002).
 * - Account changes (suspend, factor added, lockout) → Account Change (3001).
 * - Changes to models, relationships, access policies, API keys → Entity Management (3004).
 *
 * Every event also carries the columns the log indexes (`AuditIndex`): they are copies of values
 * inside the event, never extra facts, so the hashed event alone is the record.
 *
 * Sensitive values (tokens, secrets, context a caller marked sensitive) never enter an event in
 * clear: `Sensitive` turns them into keyed HMACs (`hmac-sha256:<hex>`), which still let an
 * investigator with the key match a known value, and nobody without it learn one.
 */
import { createHmac } from "node:crypto";

export const OCSF_VERSION = "1.3.0";

export const OCSF_CLASS = {
  accountChange: 3001,
  authentication: 3002,
  entityManagement: 3004,
  apiActivity: 6003,
} as const;

/** The columns the log keeps beside each event, for queries. */
export interface AuditIndex {
  type: string;
  classUid: number;
  storeId?: string | undefined;
  subject?: string | undefined;
  resource?: string | undefined;
  decision?: string | undefined;
  policy?: string | undefined;
}

/** An event as handed to the log: the OCSF body (without sequence and time) and its index. */
export interface AuditEventInput {
  index: AuditIndex;
  /**
   * The OCSF event as JSON, without `metadata` and `time`: the log adds them when it assigns the
   * sequence number (see eventText). Serialised when the event is made, while its values are
   * still in the CPU's caches (a third of the cost of serialising it later, at commit).
   */
  json: string;
}

/** Keyed HMAC of sensitive values (the key comes from the master key; see audit/keys). */
export class Sensitive {
  readonly #key: Uint8Array;
  constructor(key: Uint8Array) {
    if (key.length < 32) throw new TypeError("the audit HMAC key must be at least 32 bytes");
    this.#key = key;
  }

  digest(value: unknown): string {
    const text = typeof value === "string" ? value : JSON.stringify(value);
    return `hmac-sha256:${createHmac("sha256", this.#key).update(text).digest("hex")}`;
  }
}

const PRODUCT = { name: "Tenet", vendor_name: "Tenet", version: "0.1.0" };

/** OCSF severity: 1 informational, 2 low, 3 medium, 4 high, 5 critical. */
const RISK_LEVEL_ID: Record<string, number> = { low: 1, medium: 2, high: 3, critical: 4 };


/** What a decision event needs to know (shaped like AccessDecision; no import of the policy plane). */
export interface DecisionFacts {
  decision: "allow" | "deny" | "challenge" | "pending";
  decisionId: string;
  storeId: string;
  subject: { id: string; groups?: string[] | undefined; acr?: string | undefined; amr?: string[] | undefined };
  resource: { type: string; id: string; classification?: string | undefined };
  action: string;
  policyVersion?: number | undefined;
  /** The rules that decided: `policy/rule` with their outcome. */
  rules: Array<{ policy: string; rule: string; effect: string; outcome: string }>;
  risk?: { score: number; level: string; reasons: Array<{ signal: string; score: number; reason: string }> } | undefined;
  reasons: string[];
  relationships?: unknown[] | undefined;
  challenge?: unknown;
  pending?: { request_id: string; approvers: string[] } | undefined;
  obligations?: unknown[] | undefined;
  request?: { ip?: string | undefined; user_agent?: string | undefined; method?: string | undefined; host?: string | undefined; path?: string | undefined } | undefined;
  device?: { id?: string | undefined; compliant?: boolean | undefined; managed?: boolean | undefined } | undefined;
  /** Which API asked: `access.decide`, `authzen.evaluation`, `openfga.check`, `proxy`. */
  via: string;
  /** The decision this one reused (the proxy's decision cache): the same question a moment ago. */
  reusedFrom?: string | undefined;
  /** The API credential that asked (its id, never the token). */
  client?: string | undefined;
  /** Caller-supplied context; stored only as an HMAC. */
  context?: Record<string, unknown> | undefined;
}

/** An access decision as OCSF API Activity (activity 2 = Read: a question, not a change). */
export function decisionEvent(f: DecisionFacts, sensitive: Sensitive | undefined): AuditEventInput {
  const deciding = f.rules.find((r) => r.outcome === "matched" || r.outcome === "unevaluable") ?? f.rules[0];
  const policy = deciding ? `${deciding.policy}${f.policyVersion !== undefined ? `@${f.policyVersion}` : ""}` : undefined;
  const body: Record<string, unknown> = {
    // Fields written out rather than spread from a helper: spreading costs several µs per event.
    class_uid: OCSF_CLASS.apiActivity,
    category_uid: 6,
    activity_id: 2,
    type_uid: OCSF_CLASS.apiActivity * 100 + 2,
    severity_id: f.decision === "allow" ? 1 : 2,
    status_id: f.decision === "allow" ? 1 : 2,
    status: f.decision === "allow" ? "Success" : "Failure",
    actor: {
      user: { uid: f.subject.id, groups: f.subject.groups?.map((name) => ({ name })) },
      authorizations: [{ decision: f.decision, policy: deciding ? { name: deciding.policy, uid: `${deciding.policy}/${deciding.rule}`, version: f.policyVersion?.toString() } : undefined }],
      app_uid: f.client,
    },
    api: { operation: f.via, request: { uid: f.decisionId } },
    resources: [{ uid: `${f.resource.type}:${f.resource.id}`, type: f.resource.type, data_classification: f.resource.classification }],
    src_endpoint: f.request?.ip !== undefined ? { ip: f.request.ip } : undefined,
    http_request: f.request?.method !== undefined || f.request?.path !== undefined ? { http_method: f.request.method, url: { hostname: f.request.host, path: f.request.path }, user_agent: f.request.user_agent } : undefined,
    device: f.device?.id !== undefined ? { uid: f.device.id, is_compliant: f.device.compliant, is_managed: f.device.managed } : undefined,
    risk_score: f.risk?.score,
    risk_level: f.risk?.level,
    risk_level_id: f.risk ? RISK_LEVEL_ID[f.risk.level] : undefined,
    unmapped: {
      tenet: {
        store_id: f.storeId,
        action: f.action,
        decision: f.decision,
        policy_version: f.policyVersion,
        rules: f.rules,
        reasons: f.reasons,
        risk_reasons: f.risk?.reasons,
        relationships: f.relationships,
        challenge: f.challenge,
        pending: f.pending,
        obligations: f.obligations,
        acr: f.subject.acr,
        amr: f.subject.amr,
        context_hmac: f.context !== undefined && sensitive ? sensitive.digest(f.context) : undefined,
        reused_from: f.reusedFrom,
      },
    },
  };
  return {
    index: { type: "access.decision", classUid: OCSF_CLASS.apiActivity, storeId: f.storeId, subject: f.subject.id, resource: `${f.resource.type}:${f.resource.id}`, decision: f.decision, policy },
    json: JSON.stringify(body),
  };
}

/** A change to something Tenet manages, as OCSF Entity Management. */
export interface ChangeFacts {
  /** `model.write`, `tuples.write`, `access_policy.apply`, `api_key.create`, ... */
  type: string;
  activity: "create" | "update" | "delete";
  storeId?: string | undefined;
  /** Who changed it (`api_key:<id>`, `user:anne`, `cli`). */
  actor: string;
  entity: { type: string; uid: string; version?: string | undefined };
  /** What changed, without secrets (sizes, ids, versions, a diff summary). */
  details?: Record<string, unknown> | undefined;
  /** Secrets involved (a token, a webhook secret): stored only as HMACs. */
  secrets?: Record<string, string> | undefined;
}

const ENTITY_ACTIVITY = { create: 1, update: 3, delete: 4 } as const;

export function changeEvent(f: ChangeFacts, sensitive: Sensitive | undefined): AuditEventInput {
  const secrets: Record<string, string> = {};
  for (const [k, v] of Object.entries(f.secrets ?? {})) if (sensitive) secrets[k] = sensitive.digest(v);
  const body: Record<string, unknown> = {
    class_uid: OCSF_CLASS.entityManagement,
    category_uid: 3,
    activity_id: ENTITY_ACTIVITY[f.activity],
    type_uid: OCSF_CLASS.entityManagement * 100 + ENTITY_ACTIVITY[f.activity],
    severity_id: 1,
    status_id: 1,
    actor: { user: { uid: f.actor } },
    entity: { type: f.entity.type, uid: f.entity.uid, version: f.entity.version },
    unmapped: { tenet: { store_id: f.storeId, details: f.details, secrets: Object.keys(secrets).length > 0 ? secrets : undefined } },
  };
  return { index: { type: f.type, classUid: OCSF_CLASS.entityManagement, storeId: f.storeId, subject: f.actor, resource: `${f.entity.type}:${f.entity.uid}`, decision: "success" }, json: JSON.stringify(body) };
}

/** A sign-in (or its failure) as OCSF Authentication. */
export interface AuthenticationFacts {
  type: "authentication.sign_in" | "authentication.sign_out" | "authentication.failure" | "authentication.token" | "authentication.factor_change" | "authentication.lockout";
  subject: string;
  success: boolean;
  ip?: string | undefined;
  userAgent?: string | undefined;
  acr?: string | undefined;
  amr?: string[] | undefined;
  mfa?: boolean | undefined;
  reason?: string | undefined;
  /** Credential values (a token): only their HMAC is kept. */
  secrets?: Record<string, string> | undefined;
}

export function authenticationEvent(f: AuthenticationFacts, sensitive: Sensitive | undefined): AuditEventInput {
  const secrets: Record<string, string> = {};
  for (const [k, v] of Object.entries(f.secrets ?? {})) if (sensitive) secrets[k] = sensitive.digest(v);
  // OCSF Authentication activities: 1 Logon, 2 Logoff, 3 Authentication Ticket, 99 Other.
  const activity = f.type === "authentication.sign_out" ? 2 : f.type === "authentication.token" ? 3 : f.type === "authentication.factor_change" || f.type === "authentication.lockout" ? 99 : 1;
  const body: Record<string, unknown> = {
    class_uid: OCSF_CLASS.authentication,
    category_uid: 3,
    activity_id: activity,
    type_uid: OCSF_CLASS.authentication * 100 + activity,
    severity_id: f.success ? 1 : 3,
    status_id: f.success ? 1 : 2,
    status_detail: f.reason,
    user: { uid: f.subject },
    is_mfa: f.mfa,
    src_endpoint: f.ip !== undefined ? { ip: f.ip } : undefined,
    http_request: f.userAgent !== undefined ? { user_agent: f.userAgent } : undefined,
    unmapped: { tenet: { acr: f.acr, amr: f.amr, secrets: Object.keys(secrets).length > 0 ? secrets : undefined } },
  };
  return { index: { type: f.type, classUid: OCSF_CLASS.authentication, subject: f.subject, decision: f.success ? "success" : "failure" }, json: JSON.stringify(body) };
}

/** The start of each event type's `metadata` (everything but the sequence number and time). */
const metadataHeads = new Map<string, string>();

function metadataHead(type: string): string {
  let head = metadataHeads.get(type);
  if (head === undefined) {
    head = `{"metadata":${JSON.stringify({ version: OCSF_VERSION, product: PRODUCT, log_name: "tenet-audit", event_code: type }).slice(0, -1)},"sequence":`;
    if (metadataHeads.size < 1000) metadataHeads.set(type, head);
  }
  return head;
}

/**
 * The event as stored and hashed: OCSF `metadata` (with the log's sequence number and the time
 * it was logged) first, then the event's own fields, then `time`. Keys with undefined values were
 * dropped when the event was serialised, so absent facts leave no trace.
 */
export function eventText(input: AuditEventInput, seq: number, timeMs: number): string {
  const fields = input.json.length > 2 ? `,${input.json.slice(1, -1)}` : "";
  return `${metadataHead(input.index.type)}${seq},"logged_time":${timeMs}}${fields},"time":${timeMs}}`;
}
