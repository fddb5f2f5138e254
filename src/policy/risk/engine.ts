/**
 * The risk engine: runs each signal, weighs its contribution and sums them into a score 0..100
 * and a level. It is synchronous and allocation-light because the decision point calls it on
 * every access decision, and pure given its input (no clock, no randomness, no I/O), so the same
 * input always gives a deep-equal assessment.
 *
 *   score  = min(100, round(Σ weight × signal score))
 *   level  = low < thresholds.medium ≤ medium < thresholds.high ≤ high < thresholds.critical ≤ critical
 *   reasons: one per signal that said something, by contribution (descending) then signal name.
 *
 * A signal that throws does not fail the decision open: it contributes `signalFailureScore`
 * with a reason naming it. Weights only ever multiply non-negative scores, so no signal and no
 * weight can lower the score another signal raised.
 */
import type { RiskAssessment, RiskLevel, RiskReason } from "../access/types.js";
import type { RiskConfig } from "./config.js";
import { parseIp } from "./ip.js";
import type { LoadProblem, RiskInput, RiskSignal, SignalContext, SignalResult } from "./types.js";

export class RiskEngine {
  readonly config: RiskConfig;
  readonly #signals: readonly RiskSignal[];
  readonly #weights: Float64Array;
  readonly #medium: number;
  readonly #high: number;
  readonly #critical: number;

  /** `config` is a parsed RiskConfig (parseRiskConfig); throws TypeError for caller mistakes. */
  constructor(config: RiskConfig, signals: readonly RiskSignal[]) {
    if (config === null || typeof config !== "object" || typeof config.thresholds !== "object") throw new TypeError("config must be a parsed risk configuration (parseRiskConfig)");
    if (!Array.isArray(signals)) throw new TypeError("signals must be an array of RiskSignal");
    const names = new Set<string>();
    for (const s of signals) {
      if (s === null || typeof s !== "object" || typeof s.name !== "string" || typeof s.evaluate !== "function") throw new TypeError("every signal needs a string name and an evaluate() method");
      if (names.has(s.name)) throw new TypeError(`two signals are named ${JSON.stringify(s.name)}; names must be unique`);
      names.add(s.name);
    }
    // A weight for a signal the engine does not have is a typo that would silently do nothing.
    for (const name of Object.keys(config.weights)) {
      if (!names.has(name)) throw new TypeError(`weights.${name}: there is no signal named ${JSON.stringify(name)} (signals: ${[...names].join(", ")})`);
    }
    this.config = config;
    this.#signals = [...signals];
    this.#weights = Float64Array.from(this.#signals, (s) => config.weights[s.name] ?? 1);
    this.#medium = config.thresholds.medium;
    this.#high = config.thresholds.high;
    this.#critical = config.thresholds.critical;
  }

  /** The signals' names, in evaluation order. */
  get signalNames(): string[] {
    return this.#signals.map((s) => s.name);
  }

  /** Everything that went wrong loading the signals' lists, feeds and databases. */
  get problems(): LoadProblem[] {
    return this.#signals.flatMap((s) => s.problems ?? []);
  }

  assess(input: RiskInput): RiskAssessment {
    if (input === null || typeof input !== "object") throw new TypeError("input must be a RiskInput object");
    if (typeof input.now !== "number" || !Number.isFinite(input.now)) throw new TypeError("input.now must be the evaluation time in ms since the epoch");
    const ipText = input.request?.ip;
    const ctx: SignalContext = { config: this.config, clientIp: typeof ipText === "string" ? parseIp(ipText) : undefined };

    const reasons: RiskReason[] = [];
    let total = 0;
    const signals = this.#signals;
    for (let i = 0; i < signals.length; i++) {
      const weight = this.#weights[i] as number;
      if (weight === 0) continue; // turned off
      const signal = signals[i] as RiskSignal;
      let result: SignalResult | null;
      try {
        result = signal.evaluate(input, ctx);
      } catch (err) {
        result = { score: this.config.signalFailureScore, reason: `the ${signal.name} signal failed (${err instanceof Error ? err.message : String(err)}), so it counts as risky` };
      }
      if (result === null || result === undefined) continue;
      let score = result.score;
      // A signal returning nonsense must not lower the score: NaN counts as the maximum.
      score = score >= 0 ? (score <= 100 ? score : 100) : Number.isNaN(score) ? 100 : 0;
      const contribution = score * weight;
      total += contribution;
      reasons.push({ signal: signal.name, score: Math.round(contribution * 100) / 100, reason: String(result.reason) });
    }
    // Insertion sort: there are a handful of reasons, and Array.prototype.sort with a
    // comparator costs more than the whole sort for so few.
    for (let i = 1; i < reasons.length; i++) {
      const r = reasons[i] as RiskReason;
      let j = i - 1;
      while (j >= 0 && byContribution(reasons[j] as RiskReason, r) > 0) {
        reasons[j + 1] = reasons[j] as RiskReason;
        j--;
      }
      reasons[j + 1] = r;
    }
    const score = Math.min(100, Math.round(total));
    return { score, level: this.levelOf(score), reasons };
  }

  levelOf(score: number): RiskLevel {
    if (score < this.#medium) return "low";
    if (score < this.#high) return "medium";
    if (score < this.#critical) return "high";
    return "critical";
  }
}

function byContribution(a: RiskReason, b: RiskReason): number {
  if (a.score !== b.score) return b.score - a.score;
  // Code-unit order, not localeCompare: the same on every machine.
  return a.signal < b.signal ? -1 : a.signal > b.signal ? 1 : 0;
}
