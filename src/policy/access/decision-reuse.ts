/**
 * Decisions reused for a moment (the enforcement point's decision cache): a proxy asks the same
 * question for every asset of a page. An answer is reused only for exactly the same question —
 * the key is the whole access request (subject with its groups, acr, amr and auth_time; device;
 * request with ip, method, host, path and user agent; resource; action) plus the store's live
 * policy version and relationship index revision — and only for `reuseMs` (default 1 s). A policy
 * apply or a tuple write changes the key, so the next request is evaluated afresh.
 *
 * Only plain answers are reused: allow and deny, never a challenge, a pending approval, an allow
 * through a just-in-time grant (grants expire) or one that sends a notice. Every reuse is still
 * recorded in the audit log as a decision of its own, naming the decision it reused.
 */
import { TtlCache } from "../../util/ttl-cache.js";
import type { AccessRequest } from "./types.js";

export interface ReusableDecision {
  decision: "allow" | "deny" | "challenge" | "pending";
  grant?: unknown;
  pending?: unknown;
  challenge?: unknown;
}

export class DecisionReuse<D extends ReusableDecision> {
  private readonly cache: TtlCache<string, D>;

  constructor(
    private readonly reuseMs: number,
    private readonly now: () => number,
    maxEntries = 10_000,
  ) {
    this.cache = new TtlCache(maxEntries, now);
  }

  /** The key of a question, or undefined when the store's state is not known synchronously. */
  key(storeId: string, policyVersion: number | undefined, revision: string | undefined, req: AccessRequest): string | undefined {
    if (revision === undefined) return undefined;
    return `${storeId}\u0000${policyVersion ?? "-"}\u0000${revision}\u0000${JSON.stringify(req)}`;
  }

  get(key: string): D | undefined {
    return this.cache.get(key);
  }

  /** Keeps a plain answer (`notifies`: it sends a just-in-time notice, so it is never reused). */
  offer(key: string, d: D, notifies: boolean): void {
    if ((d.decision !== "allow" && d.decision !== "deny") || d.grant !== undefined || d.pending !== undefined || d.challenge !== undefined || notifies) return;
    this.cache.set(key, d, this.now() + this.reuseMs);
  }

  clear(): void {
    this.cache.clear();
  }
}
