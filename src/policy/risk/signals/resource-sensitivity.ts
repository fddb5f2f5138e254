/**
 * resource_sensitivity: the more sensitive the resource, the more the same context counts.
 * public → `public` (0 by default, no reason), internal, confidential, restricted. A resource
 * without a classification is treated as confidential (the riskier case than internal, where
 * most unlabelled data belongs), and one with a classification Tenet does not know as
 * restricted: a typo must not make data look public.
 */
import type { Classification } from "../../access/types.js";
import type { RiskConfig } from "../config.js";
import type { RiskInput, RiskSignal, SignalContext, SignalResult } from "../types.js";
import { quote } from "./text.js";

export class ResourceSensitivitySignal implements RiskSignal {
  readonly name = "resource_sensitivity";
  readonly #c: RiskConfig["resourceSensitivity"];
  /** Results for the known classifications, made once (this runs on every decision). */
  readonly #fixed: Record<Classification, SignalResult | null>;
  readonly #missing: SignalResult;

  constructor(config: RiskConfig) {
    this.#c = config.resourceSensitivity;
    const fixed = (c: Classification): SignalResult | null => (this.#c[c] === 0 ? null : { score: this.#c[c], reason: `the resource is classified ${c}` });
    this.#fixed = { public: fixed("public"), internal: fixed("internal"), confidential: fixed("confidential"), restricted: fixed("restricted") };
    this.#missing = { score: this.#c.confidential, reason: "the resource has no classification, so it is treated as confidential" };
  }

  evaluate(input: RiskInput, _ctx?: SignalContext): SignalResult | null {
    const c = input.resource?.classification as unknown;
    if (c === undefined || c === null || c === "") return this.#missing;
    if (c === "public" || c === "internal" || c === "confidential" || c === "restricted") return this.#fixed[c];
    return { score: this.#c.restricted, reason: `the resource's classification ${quote(String(c))} is not one Tenet knows, so it is treated as restricted` };
  }
}
