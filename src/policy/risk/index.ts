/**
 * The risk engine's public API. Typical use, once at start:
 *
 *   const config = parseRiskConfig(yaml.risk, "risk");
 *   const resources = loadRiskResources(config, { baseDir: dirname(configFile) });
 *   for (const p of resourceProblems(resources)) log.warn(p, "risk data problem");
 *   const engine = new RiskEngine(config, [...defaultSignals(config, resources), mySignal]);
 *
 * and per decision: `engine.assess({ subject, device, request, resource, now, history })`.
 */
export type { RiskAssessment, RiskLevel, RiskReason } from "../access/types.js";
export { RiskEngine } from "./engine.js";
export { parseRiskConfig, riskConfigSchema, SIGNAL_NAMES, type RiskConfig, type RiskConfigInput } from "./config.js";
export type { CredentialStatus, GeoLocation, GeoPoint, LoadProblem, RiskInput, RiskSignal, SignInRecord, SignalContext, SignalResult, SubjectHistory } from "./types.js";
export { defaultSignals } from "./default-signals.js";
export { loadRiskResources, resourceProblems, type LoadRiskResourcesOptions, type RiskResources } from "./resources.js";
export { formatIp, parseCidr, parseIp, type IpAddr, type IpRange } from "./ip.js";
export { IpRangeTable, type RangeEntry } from "./ip-range-table.js";
export { loadIpList, loadIpReputationLists, parseIpListText, type IpReputationLists, type LoadedList } from "./ip-lists.js";
export { TableGeoLocator, type GeoLocator, type GeoTableEntry } from "./geo/locator.js";
export { BUILTIN_GEO_ENTRIES, builtinGeoLocator } from "./geo/builtin.js";
export { MmdbGeoLocator, loadMmdbGeoLocator } from "./geo/mmdb.js";
export { distanceKm } from "./geo/distance.js";
export { IpReputationSignal } from "./signals/ip-reputation.js";
export { ImpossibleTravelSignal } from "./signals/impossible-travel.js";
export { NewDeviceSignal } from "./signals/new-device.js";
export { UnusualHourSignal, hourOfDay } from "./signals/unusual-hour.js";
export { FailedSignInsSignal } from "./signals/failed-sign-ins.js";
export { FlaggedCredentialSignal } from "./signals/flagged-credential.js";
export { ResourceSensitivitySignal } from "./signals/resource-sensitivity.js";
export { applySignIn, emptyHistory, historyLimits, normalizeHistory, type HistoryLimits, type HistoryStore, type SignInEvent, type StoredHistory } from "./history.js";
export { MemoryHistoryStore } from "./history-memory.js";
export { DocumentHistoryStore, RISK_HISTORY_COLLECTION } from "./history-documents.js";
