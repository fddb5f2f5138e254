/**
 * The decision point asked over HTTP, for a proxy running alone (`tenet serve --roles proxy`):
 * `POST <url>/stores/{store}/access/v1/decide` with an API key that has the `check` scope. The
 * remote server decides and records the decision in its audit log, exactly as in-process.
 *
 * Fail closed: anything but a well-formed 200 answer (refused connection, timeout, 4xx/5xx,
 * an answer without a known decision) is an error, which the enforcer turns into 503.
 */
import { Agent, request } from "undici";
import type { AccessDecision } from "../../policy/access/decision-point.js";
import type { AccessRequest } from "../../policy/access/types.js";

export interface RemoteDecisionOptions {
  /** The decision point's base URL (Tenet's API), e.g. https://tenet.internal:8443. */
  url: string;
  /** An API key with the `check` scope. */
  token: string;
  /** Per-request limit (ms; default 2000). */
  timeoutMs?: number;
}

const DECISIONS = new Set(["allow", "deny", "challenge", "pending"]);

export class RemoteDecisionPoint {
  private readonly base: string;
  private readonly dispatcher = new Agent({ keepAliveTimeout: 30_000 });
  private readonly timeoutMs: number;

  constructor(private readonly o: RemoteDecisionOptions) {
    const u = new URL(o.url);
    if (u.protocol !== "http:" && u.protocol !== "https:") throw new TypeError("the decision point URL must be http(s)");
    this.base = u.href.replace(/\/+$/, "");
    this.timeoutMs = o.timeoutMs ?? 2000;
  }

  async decide(storeId: string, req: AccessRequest): Promise<AccessDecision> {
    const res = await request(`${this.base}/stores/${encodeURIComponent(storeId)}/access/v1/decide`, {
      method: "POST",
      dispatcher: this.dispatcher,
      headers: { authorization: `Bearer ${this.o.token}`, "content-type": "application/json", accept: "application/json" },
      body: JSON.stringify(req),
      headersTimeout: this.timeoutMs,
      bodyTimeout: this.timeoutMs,
    });
    const text = await res.body.text();
    if (res.statusCode !== 200) {
      let code = "";
      try {
        code = String((JSON.parse(text) as { code?: unknown }).code ?? "");
      } catch {
        // not JSON: the status says enough
      }
      throw new Error(`the decision point answered ${res.statusCode}${code ? ` (${code})` : ""}`);
    }
    const d = JSON.parse(text) as Partial<AccessDecision>;
    if (typeof d !== "object" || d === null || !DECISIONS.has(String(d.decision)) || typeof d.decision_id !== "string") throw new Error("the decision point's answer holds no decision");
    return { obligations: [], reasons: [], ...d } as AccessDecision;
  }

  async close(): Promise<void> {
    await this.dispatcher.close();
  }
}
