/**
 * The values access-policy rules see, as classes registered with the CEL environment.
 *
 * Why classes rather than the request's plain objects: cel-js converts a plain object given for a
 * message-typed variable into a typed wrapper on every evaluation, and a decision evaluates
 * several rules. An instance of the registered class is used as is. Derived request fields
 * (hour, weekday, zones) are getters computed on first use, so a decision whose rules never read
 * them never pays for them.
 *
 * An attribute the request does not carry stays `undefined`, which CEL reports as a missing
 * field: the evaluator then treats the rule as the riskier case.
 */
import type { DeviceSignals, RequestSignals, ResourceSignals, RiskAssessment, SubjectSignals } from "./types.js";

export const SUBJECT_FIELDS = { id: "string", claims: "map", groups: "list<string>", roles: "list<string>", acr: "string", amr: "list<string>", auth_time: "double" } as const;
export const DEVICE_FIELDS = {
  id: "string",
  registered: "bool",
  managed: "bool",
  compliant: "bool",
  os: "map",
  patch_level: "string",
  disk_encryption: "bool",
  screen_lock: "bool",
  firewall: "bool",
  posture_age: "double",
} as const;
export const REQUEST_FIELDS = {
  ip: "string",
  zones: "list<string>",
  country: "string",
  time: "string",
  hour: "double",
  weekday: "double",
  user_agent: "string",
  method: "string",
  host: "string",
  path: "string",
} as const;
export const RESOURCE_FIELDS = { type: "string", id: "string", classification: "string", owner: "string", attributes: "map" } as const;
export const RISK_FIELDS = { score: "double", level: "string", reasons: "list<string>" } as const;

export class SubjectView {
  readonly id: string;
  readonly claims: Record<string, unknown> | undefined;
  readonly groups: string[] | undefined;
  readonly roles: string[] | undefined;
  readonly acr: string | undefined;
  readonly amr: string[] | undefined;
  readonly auth_time: number | undefined;
  constructor(s: SubjectSignals) {
    this.id = s.id;
    this.claims = s.claims;
    this.groups = s.groups;
    this.roles = s.roles;
    this.acr = s.acr;
    this.amr = s.amr;
    this.auth_time = s.auth_time;
  }
}

export class DeviceView {
  readonly id: string | undefined;
  readonly registered: boolean | undefined;
  readonly managed: boolean | undefined;
  readonly compliant: boolean | undefined;
  readonly os: DeviceSignals["os"];
  readonly patch_level: string | undefined;
  readonly disk_encryption: boolean | undefined;
  readonly screen_lock: boolean | undefined;
  readonly firewall: boolean | undefined;
  readonly posture_age: number | undefined;
  constructor(d: DeviceSignals | undefined) {
    this.id = d?.id;
    this.registered = d?.registered;
    this.managed = d?.managed;
    this.compliant = d?.compliant;
    this.os = d?.os;
    this.patch_level = d?.patch_level;
    this.disk_encryption = d?.disk_encryption;
    this.screen_lock = d?.screen_lock;
    this.firewall = d?.firewall;
    this.posture_age = d?.posture_age;
  }
}

export class RequestView {
  readonly ip: string | undefined;
  readonly country: string | undefined;
  readonly time: string | undefined;
  readonly user_agent: string | undefined;
  readonly method: string | undefined;
  readonly host: string | undefined;
  readonly path: string | undefined;
  #date: Date | null | undefined;
  #zones: string[] | undefined;
  readonly #now: number;
  readonly #zonesOf: ((ip: string) => string[]) | undefined;
  constructor(r: RequestSignals | undefined, now: number, zonesOf: ((ip: string) => string[]) | undefined) {
    this.#now = now;
    this.#zonesOf = zonesOf;
    this.ip = r?.ip;
    this.country = r?.country;
    this.time = r?.time;
    this.user_agent = r?.user_agent;
    this.method = r?.method;
    this.host = r?.host;
    this.path = r?.path;
  }

  /** The request's time (its own when given and valid, else the evaluation's); null if invalid. */
  #when(): Date | null {
    if (this.#date === undefined) {
      const t = this.time !== undefined ? Date.parse(this.time) : this.#now;
      this.#date = Number.isFinite(t) ? new Date(t) : null;
    }
    return this.#date;
  }

  get hour(): number | undefined {
    return this.#when()?.getUTCHours();
  }

  get weekday(): number | undefined {
    return this.#when()?.getUTCDay();
  }

  /** Named network zones of the client address; absent without an address or a zone table. */
  get zones(): string[] | undefined {
    if (this.#zones === undefined && this.ip !== undefined && this.#zonesOf) this.#zones = this.#zonesOf(this.ip);
    return this.#zones;
  }
}

export class ResourceView {
  readonly type: string;
  readonly id: string;
  readonly classification: string | undefined;
  readonly owner: string | undefined;
  readonly attributes: Record<string, unknown> | undefined;
  constructor(r: ResourceSignals) {
    this.type = r.type;
    this.id = r.id;
    this.classification = r.classification;
    this.owner = r.owner;
    this.attributes = r.attributes;
  }
}

export class RiskView {
  readonly score: number;
  readonly level: string;
  #risk: RiskAssessment;
  #reasons: string[] | undefined;
  constructor(risk: RiskAssessment) {
    this.score = risk.score;
    this.level = risk.level;
    this.#risk = risk;
  }

  /** The names of the signals that raised the score. */
  get reasons(): string[] {
    return (this.#reasons ??= this.#risk.reasons.map((r) => r.signal));
  }
}
