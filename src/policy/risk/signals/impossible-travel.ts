/**
 * impossible_travel: could the subject have travelled from their previous successful sign-in to
 * where this request comes from in the time between? Distance is great-circle, speed is
 * distance / elapsed time, and anything faster than `maxSpeedKmh` (default 1000 km/h, about an
 * airliner) is a verdict. Shorter hops than `minDistanceKm` are ignored: geolocation of mobile
 * and carrier-grade NAT addresses is often off by tens of kilometres.
 *
 * Unknown locations (a private address, one the database lacks) give no verdict and no reason
 * by default (`unknownLocationScore: 0`): they are common inside a corporate network, and a
 * caution on every such request would teach people to ignore it. A missing client IP is already
 * a caution of ip_reputation. When a configured geolocation database failed to load, every
 * assessment carries a caution instead, because the check is then off without anyone asking.
 *
 * The previous sign-in is the latest one strictly before `now`: read the history before
 * recording the current sign-in (a record at the same instant is skipped either way).
 */
import type { RiskConfig } from "../config.js";
import { distanceKm } from "../geo/distance.js";
import type { GeoLocator } from "../geo/locator.js";
import { parseIp } from "../ip.js";
import type { GeoLocation, LoadProblem, RiskInput, RiskSignal, SignInRecord, SignalContext, SignalResult } from "../types.js";
import { durationLabel } from "./text.js";

export class ImpossibleTravelSignal implements RiskSignal {
  readonly name = "impossible_travel";
  readonly problems: readonly LoadProblem[];
  readonly #geo: GeoLocator | undefined;
  readonly #c: RiskConfig["impossibleTravel"];
  readonly #unavailable: SignalResult | undefined;

  /** `geo` undefined means the configured database could not be loaded (see `problems`). */
  constructor(config: RiskConfig, geo: GeoLocator | undefined, problems: readonly LoadProblem[] = []) {
    this.#geo = geo;
    this.#c = config.impossibleTravel;
    this.problems = problems;
    if (geo === undefined) {
      const why = problems.map((p) => `${p.file}: ${p.problem}`).join("; ") || "not loaded";
      this.#unavailable = { score: this.#c.geoDatabaseUnavailableScore, reason: `geolocation database unavailable (${why}); impossible travel cannot be checked` };
    }
  }

  evaluate(input: RiskInput, ctx: SignalContext): SignalResult | null {
    const geo = this.#geo;
    if (geo === undefined) return this.#unavailable ?? null;
    const ip = ctx.clientIp;
    if (ip === undefined) return null;
    const prev = previousSignIn(input.history?.signIns, input.now);
    if (prev === undefined) return null;
    // The common case, decided without a lookup: the same address is the same place.
    if (prev.location === undefined && prev.ip === input.request?.ip) return null;

    const here = geo.locate(ip);
    let there: GeoLocation | undefined = isPoint(prev.location) ? prev.location : undefined;
    if (there === undefined && typeof prev.ip === "string") {
      const prevIp = parseIp(prev.ip);
      if (prevIp !== undefined) there = geo.locate(prevIp);
    }
    if (here === undefined || there === undefined) {
      const score = this.#c.unknownLocationScore;
      return score > 0 ? { score, reason: `cannot tell where ${here === undefined ? "this request" : "the previous sign-in"} came from, so impossible travel cannot be ruled out` } : null;
    }

    const km = distanceKm(there, here);
    if (km < this.#c.minDistanceKm) return null;
    const elapsedMs = input.now - prev.time; // > 0: previousSignIn takes only earlier ones
    const speed = km / (elapsedMs / 3_600_000);
    if (speed <= this.#c.maxSpeedKmh) return null;
    return {
      score: this.#c.score,
      reason: `sign-in from ${place(here)} is ${Math.round(km)} km from the previous sign-in (${place(there)}) ${durationLabel(elapsedMs)} earlier: ${Math.round(speed)} km/h, faster than the ${this.#c.maxSpeedKmh} km/h limit`,
    };
  }
}

function previousSignIn(signIns: readonly SignInRecord[] | undefined, now: number): SignInRecord | undefined {
  if (!Array.isArray(signIns)) return undefined;
  let best: SignInRecord | undefined;
  // The list is short (bounded by the store); scanning it all copes with any order a caller
  // passes, and with entries from the future (clock skew between replicas).
  for (const s of signIns) {
    if (s === null || typeof s !== "object" || typeof s.time !== "number" || !(s.time < now)) continue;
    if (best === undefined || s.time > best.time) best = s;
  }
  return best;
}

function isPoint(p: GeoLocation | undefined): p is GeoLocation {
  return p !== undefined && typeof p.latitude === "number" && typeof p.longitude === "number" && Math.abs(p.latitude) <= 90 && Math.abs(p.longitude) <= 180;
}

function place(l: GeoLocation): string {
  if (l.city !== undefined && l.country !== undefined) return `${l.city}, ${l.country}`;
  return l.city ?? l.country ?? `${l.latitude.toFixed(2)}, ${l.longitude.toFixed(2)}`;
}
