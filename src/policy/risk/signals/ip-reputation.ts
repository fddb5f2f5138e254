/**
 * ip_reputation: is the client address on the deny list, on the allow list, or in a threat feed?
 *
 * Precedence, most cautious first:
 * 1. no address, or one that does not parse → `missingIp` (a request without the signal is the
 *    riskier case);
 * 2. the deny list → `deny` (the operator said so; an allow entry does not undo it);
 * 3. the allow list → score 0 with a reason: an allow list exists to say "this is our egress",
 *    typically because a third-party feed lists it wrongly, so it skips the feeds. It only
 *    speaks for this signal: impossible travel, devices and the rest still count;
 * 4. threat feeds → the highest-scoring feed that lists the address.
 * While the deny list or any feed failed to load, `feedUnavailable` is added to whatever the
 * verdict is (an allowed address too: a missing deny list could have overruled the allow list).
 * A failed allow list needs no caution: missing allow entries already err on the cautious side.
 */
import type { RiskConfig } from "../config.js";
import type { IpReputationLists } from "../ip-lists.js";
import type { LoadProblem, RiskInput, RiskSignal, SignalContext, SignalResult } from "../types.js";
import { quote } from "./text.js";

export class IpReputationSignal implements RiskSignal {
  readonly name = "ip_reputation";
  readonly problems: readonly LoadProblem[];
  readonly #lists: IpReputationLists;
  readonly #scores: RiskConfig["ipReputation"]["scores"];
  /** The caution sentence while a list is degraded, worked out once. */
  readonly #caution: string | undefined;

  constructor(config: RiskConfig, lists: IpReputationLists, problems: readonly LoadProblem[] = []) {
    this.#lists = lists;
    this.#scores = config.ipReputation.scores;
    this.problems = problems;
    const degraded = [lists.deny, ...lists.feeds.map((f) => f.list)].filter((l) => l.degraded !== undefined);
    this.#caution = degraded.length === 0
      ? undefined
      : `threat feed unavailable or incomplete (${degraded.map((l) => `${l.name}: ${l.degraded}`).join("; ")}); addresses are treated with more caution until it loads`;
  }

  evaluate(input: RiskInput, ctx: SignalContext): SignalResult | null {
    const verdict = this.#verdict(input, ctx);
    if (this.#caution === undefined) return verdict;
    if (verdict === null) return { score: this.#scores.feedUnavailable, reason: this.#caution };
    return { score: Math.min(100, verdict.score + this.#scores.feedUnavailable), reason: `${verdict.reason}; ${this.#caution}` };
  }

  #verdict(input: RiskInput, ctx: SignalContext): SignalResult | null {
    const ip = ctx.clientIp;
    if (ip === undefined) {
      const text = input.request?.ip;
      return {
        score: this.#scores.missingIp,
        reason: text === undefined || text === "" ? "no client IP address" : `client IP address ${quote(text)} is not a valid IP address`,
      };
    }
    // It parsed, so the text is an address (and safe to repeat); it is what the logs show.
    const shown = input.request?.ip as string;
    const denied = this.#lists.deny.table.find(ip);
    if (denied !== undefined) return { score: this.#scores.deny, reason: `client IP ${shown} is on the deny list (${denied})` };
    const allowed = this.#lists.allow.table.find(ip);
    if (allowed !== undefined) return { score: 0, reason: `client IP ${shown} is on the allow list (${allowed})` };
    let best: SignalResult | null = null;
    for (const feed of this.#lists.feeds) {
      if (best !== null && feed.score <= best.score) continue;
      const hit = feed.list.table.find(ip);
      if (hit !== undefined) best = { score: feed.score, reason: `client IP ${shown} is listed by ${feed.list.name} (${hit})` };
    }
    return best;
  }
}
