/**
 * The built-in signals, in a fixed order (the order only matters for speed: reasons are sorted).
 * Add custom ones next to them: `new RiskEngine(config, [...defaultSignals(config), mine])`.
 */
import type { RiskConfig } from "./config.js";
import { loadRiskResources, type RiskResources } from "./resources.js";
import { FailedSignInsSignal } from "./signals/failed-sign-ins.js";
import { FlaggedCredentialSignal } from "./signals/flagged-credential.js";
import { ImpossibleTravelSignal } from "./signals/impossible-travel.js";
import { IpReputationSignal } from "./signals/ip-reputation.js";
import { NewDeviceSignal } from "./signals/new-device.js";
import { ResourceSensitivitySignal } from "./signals/resource-sensitivity.js";
import { UnusualHourSignal } from "./signals/unusual-hour.js";
import type { RiskSignal } from "./types.js";

/** `resources` defaults to loading them now (synchronously) with the working directory as base. */
export function defaultSignals(config: RiskConfig, resources: RiskResources = loadRiskResources(config)): RiskSignal[] {
  return [
    new IpReputationSignal(config, resources.ipLists, resources.ipProblems),
    new ImpossibleTravelSignal(config, resources.geo, resources.geoProblems),
    new NewDeviceSignal(config),
    new UnusualHourSignal(config),
    new FailedSignInsSignal(config),
    new FlaggedCredentialSignal(config),
    new ResourceSensitivitySignal(config),
  ];
}
