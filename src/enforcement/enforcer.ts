/**
 * The enforcement point's question, asked on every request: may this person, on this device,
 * make this request on this route? It turns a route and a request into an access request for the
 * decision point, and the decision into what the proxy (or ext_authz, or middleware) does:
 * forward, send to sign-in, step up, show the pending approval, say what to fix on the device,
 * or refuse.
 *
 * Fail closed: a decision point that errors or does not answer in time is `unavailable` (503),
 * never a forward. Route-level requirements (`acr`, `maxAge`) are checked before the decision
 * point is asked, so a step-up the route always needs costs no decision.
 */
import { acrLevel, normaliseAcr } from "../identity/acr.js";
import type { AccessDecision } from "../policy/access/decision-point.js";
import type { AccessRequest, DeviceSignals } from "../policy/access/types.js";
import type { ProxyRoute } from "./routes.js";

/** Who is asking, as the identity provider's session says. */
export interface EnforcementIdentity {
  userId: string;
  sessionId?: string | undefined;
  email?: string | undefined;
  groups?: string[] | undefined;
  acr?: string | undefined;
  amr?: string[] | undefined;
  /** Seconds since the epoch. */
  authTime?: number | undefined;
  deviceId?: string | undefined;
}

export interface EnforcementInput {
  route: ProxyRoute;
  /** Absent: nobody is signed in. */
  identity?: EnforcementIdentity | undefined;
  request: { method: string; host: string; path: string; ip: string; userAgent?: string | undefined };
  device?: DeviceSignals | undefined;
}

export type EnforcementOutcome =
  | { kind: "allow"; decisionId?: string | undefined; obligations: AccessDecision["obligations"] }
  | { kind: "signin" }
  | { kind: "challenge"; acr?: string | undefined; maxAge?: number | undefined; decisionId?: string | undefined }
  | { kind: "pending"; requestId: string; approvers: string[]; decisionId: string }
  | { kind: "remediate"; needs: Array<"registered" | "managed" | "compliant">; decisionId: string; reasons: string[] }
  | { kind: "deny"; decisionId?: string | undefined; reasons: string[] }
  | { kind: "unavailable"; reason: string };

export interface EnforcerOptions {
  /** The decision point (in-process, or a client of a remote one). */
  decide: (storeId: string, req: AccessRequest) => Promise<AccessDecision>;
  /** The store asked when a route names none (a function: it may be set after start). */
  defaultStoreId?: string | (() => string | undefined) | undefined;
  /** How long a decision may take before the request is refused with 503 (ms; default 2000). */
  decisionTimeoutMs?: number;
  now?: () => number;
}

export class Enforcer {
  private readonly timeoutMs: number;
  private readonly now: () => number;

  constructor(private readonly o: EnforcerOptions) {
    this.timeoutMs = o.decisionTimeoutMs ?? 2000;
    this.now = o.now ?? Date.now;
  }

  async enforce(input: EnforcementInput): Promise<EnforcementOutcome> {
    const { route, identity } = input;
    if (route.public) return { kind: "allow", obligations: [] };
    if (!identity) return { kind: "signin" };
    // The route's own floor: asked for before any decision.
    if (route.acr !== undefined) {
      const want = normaliseAcr(route.acr) ?? route.acr;
      if (acrLevel(identity.acr) < acrLevel(want)) return { kind: "challenge", acr: want, maxAge: route.maxAgeSeconds };
    }
    if (route.maxAgeSeconds !== undefined && (identity.authTime === undefined || this.now() / 1000 - identity.authTime > route.maxAgeSeconds)) {
      return { kind: "challenge", acr: route.acr === undefined ? undefined : (normaliseAcr(route.acr) ?? route.acr), maxAge: route.maxAgeSeconds };
    }
    const storeId = route.storeId ?? (typeof this.o.defaultStoreId === "function" ? this.o.defaultStoreId() : this.o.defaultStoreId);
    if (!storeId) return { kind: "unavailable", reason: `route ${route.id} names no store and there is no default store` };
    const req: AccessRequest = {
      subject: {
        id: `user:${identity.userId}`,
        ...(identity.groups ? { groups: identity.groups } : {}),
        ...(identity.acr !== undefined ? { acr: identity.acr } : {}),
        ...(identity.amr ? { amr: identity.amr } : {}),
        ...(identity.authTime !== undefined ? { auth_time: identity.authTime } : {}),
        ...(identity.email ? { claims: { email: identity.email } } : {}),
      },
      ...(input.device ? { device: input.device } : {}),
      request: { ip: input.request.ip, method: input.request.method, host: input.request.host, path: input.request.path, ...(input.request.userAgent ? { user_agent: input.request.userAgent } : {}) },
      resource: route.resource,
      action: route.action,
    };
    let d: AccessDecision;
    try {
      d = await withTimeout(this.o.decide(storeId, req), this.timeoutMs);
    } catch (err) {
      return { kind: "unavailable", reason: err instanceof TimeoutError ? `the decision point did not answer within ${this.timeoutMs} ms` : `the decision point failed: ${(err as Error).message ?? String(err)}` };
    }
    switch (d.decision) {
      case "allow":
        return { kind: "allow", decisionId: d.decision_id, obligations: d.obligations };
      case "pending":
        return d.pending ? { kind: "pending", requestId: d.pending.request_id, approvers: d.pending.approvers, decisionId: d.decision_id } : { kind: "deny", decisionId: d.decision_id, reasons: d.reasons };
      case "challenge":
        if (d.challenge?.device && d.challenge.device.length > 0) return { kind: "remediate", needs: d.challenge.device, decisionId: d.decision_id, reasons: d.reasons };
        return { kind: "challenge", acr: d.challenge?.acr, maxAge: d.challenge?.max_age, decisionId: d.decision_id };
      default:
        return { kind: "deny", decisionId: d.decision_id, reasons: d.reasons };
    }
  }
}

class TimeoutError extends Error {}

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    p,
    new Promise<T>((_, reject) => {
      timer = setTimeout(() => reject(new TimeoutError("timeout")), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}
