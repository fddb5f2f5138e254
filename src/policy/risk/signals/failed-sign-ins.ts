/**
 * failed_sign_ins: failed sign-in attempts in the last `windowMinutes` (default 15), each
 * adding `scorePerFailure` up to `maxScore`. A success in between does not clear them: guessing
 * until it works is exactly the pattern this is for.
 */
import type { RiskConfig } from "../config.js";
import type { RiskInput, RiskSignal, SignalContext, SignalResult } from "../types.js";

export class FailedSignInsSignal implements RiskSignal {
  readonly name = "failed_sign_ins";
  readonly #c: RiskConfig["failedSignIns"];
  readonly #windowMs: number;

  constructor(config: RiskConfig) {
    this.#c = config.failedSignIns;
    this.#windowMs = this.#c.windowMinutes * 60_000;
  }

  evaluate(input: RiskInput, _ctx?: SignalContext): SignalResult | null {
    const times = input.history?.failedSignIns;
    if (!Array.isArray(times)) return null;
    const since = input.now - this.#windowMs;
    let count = 0;
    for (const t of times) if (typeof t === "number" && t > since && t <= input.now) count++;
    if (count === 0) return null;
    return {
      score: Math.min(this.#c.maxScore, count * this.#c.scorePerFailure),
      reason: `${count} failed sign-in${count === 1 ? "" : "s"} in the last ${this.#c.windowMinutes} minutes`,
    };
  }
}
