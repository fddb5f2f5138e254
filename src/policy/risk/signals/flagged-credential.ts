/**
 * flagged_credential: the subject's credential carries a breach indicator (seen in a leak,
 * flagged by an administrator or a detector). When nothing at all is known about the subject's
 * history (`history` absent, e.g. the history store is unavailable), that is not "not flagged":
 * a smaller `historyUnavailableScore` caution says so. An empty history (a new subject) is known.
 */
import type { RiskConfig } from "../config.js";
import type { RiskInput, RiskSignal, SignalContext, SignalResult } from "../types.js";
import { quote } from "./text.js";

export class FlaggedCredentialSignal implements RiskSignal {
  readonly name = "flagged_credential";
  readonly #c: RiskConfig["flaggedCredential"];
  readonly #unknown: SignalResult;

  constructor(config: RiskConfig) {
    this.#c = config.flaggedCredential;
    this.#unknown = { score: this.#c.historyUnavailableScore, reason: "no sign-in history is available for this subject, so a flagged credential cannot be ruled out" };
  }

  evaluate(input: RiskInput, _ctx?: SignalContext): SignalResult | null {
    const history = input.history;
    if (history === undefined || history === null) return this.#c.historyUnavailableScore > 0 ? this.#unknown : null;
    const cred = history.credential;
    if (cred?.flagged !== true) return null;
    const why = typeof cred.reason === "string" && cred.reason !== "" ? ` (${quote(cred.reason, 120)})` : "";
    return { score: this.#c.score, reason: `the subject's credential is flagged as compromised${why}; reset it before trusting this sign-in` };
  }
}
