/**
 * new_device: is this request from a device we know for this subject, and one registered with
 * Tenet? Each finding adds its score (capped at 100):
 * - no device identifier → `missingDeviceScore` (a request without the signal is the riskier
 *   case: it must not look better than an unknown device);
 * - an id this subject has not signed in from → `unknownDeviceScore` (also when the subject's
 *   device history is unknown);
 * - not registered (or registration not stated) → `unregisteredDeviceScore`.
 */
import type { RiskConfig } from "../config.js";
import type { RiskInput, RiskSignal, SignalContext, SignalResult } from "../types.js";
import { quote } from "./text.js";

export class NewDeviceSignal implements RiskSignal {
  readonly name = "new_device";
  readonly #c: RiskConfig["newDevice"];

  constructor(config: RiskConfig) {
    this.#c = config.newDevice;
  }

  evaluate(input: RiskInput, _ctx?: SignalContext): SignalResult | null {
    const device = input.device;
    const id = device?.id;
    const unregistered = device?.registered !== true;
    let score = 0;
    let reason: string;
    if (typeof id !== "string" || id === "") {
      score = this.#c.missingDeviceScore;
      reason = "request carries no device identifier";
    } else {
      const known = input.history?.knownDeviceIds;
      if (!Array.isArray(known)) {
        score = this.#c.unknownDeviceScore;
        reason = `no device history for this subject, so device ${quote(id)} is treated as new`;
      } else if (!known.includes(id)) {
        score = this.#c.unknownDeviceScore;
        reason = `device ${quote(id)} has not been used by this subject before`;
      } else if (!unregistered) {
        return null;
      } else {
        reason = `device ${quote(id)} is known for this subject`;
      }
    }
    if (unregistered) {
      score += this.#c.unregisteredDeviceScore;
      reason += device?.registered === false ? "; it is not registered with Tenet" : "; its registration with Tenet is not stated, so it is treated as unregistered";
    }
    return { score: Math.min(100, score), reason };
  }
}
