/**
 * unusual_hour: does this subject rarely sign in at this hour of the day? The subject's
 * histogram (24 counts, by hour in UTC shifted by `timezoneOffsetMinutes`) must hold at least
 * `minSignIns` sign-ins; with less there is no verdict, because a new subject's every hour is
 * "unusual". An hour holding less than `minShare` of the sign-ins scores.
 *
 * The hour is taken from `now`, not `request.time`: a client could claim a usual hour.
 */
import type { RiskConfig } from "../config.js";
import type { RiskInput, RiskSignal, SignalContext, SignalResult } from "../types.js";
import { utcOffsetLabel } from "./text.js";

const HOUR_MS = 3_600_000;
const DAY_MS = 24 * HOUR_MS;

/** The hour of day (0..23) of `time` in UTC shifted by `offsetMinutes`. */
export function hourOfDay(time: number, offsetMinutes: number): number {
  const t = (time + offsetMinutes * 60_000) % DAY_MS;
  return Math.floor((t < 0 ? t + DAY_MS : t) / HOUR_MS);
}

export class UnusualHourSignal implements RiskSignal {
  readonly name = "unusual_hour";
  readonly #c: RiskConfig["unusualHour"];
  readonly #offset: number;
  readonly #zone: string;

  constructor(config: RiskConfig) {
    this.#c = config.unusualHour;
    this.#offset = config.timezoneOffsetMinutes;
    this.#zone = utcOffsetLabel(this.#offset);
  }

  evaluate(input: RiskInput, _ctx?: SignalContext): SignalResult | null {
    const hist = input.history?.hourHistogram;
    if (!Array.isArray(hist) || hist.length !== 24) return null;
    let total = 0;
    for (const n of hist) {
      if (typeof n !== "number" || !(n >= 0)) return null; // not a histogram: no verdict
      total += n;
    }
    if (total < this.#c.minSignIns) return null;
    const hour = hourOfDay(input.now, this.#offset);
    const count = hist[hour] as number;
    const share = count / total;
    if (share >= this.#c.minShare) return null;
    const hh = String(hour).padStart(2, "0");
    return {
      score: this.#c.score,
      reason: `sign-in between ${hh}:00 and ${hh}:59 ${this.#zone}, an hour with ${Math.round(count * 100) / 100} of this subject's ${Math.round(total * 100) / 100} recent sign-ins (${(share * 100).toFixed(1)}%)`,
    };
  }
}
