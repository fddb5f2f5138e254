/**
 * The risk assessor of the benchmark's decision point, as `tenet serve` builds it: the risk
 * engine (src/policy/risk) with the default signals behind `EngineRiskAssessor` (its history
 * cache), over a history store holding each subject's generated history. Every subject of the
 * request pool is loaded into the cache before timing, as a running server's would be.
 */
import { EngineRiskAssessor } from "../../src/policy/access/adapters/risk-assessor.js";
import type { RiskAssessor } from "../../src/policy/access/decision-point.js";
import type { AccessRequest } from "../../src/policy/access/types.js";
import { defaultSignals, emptyHistory, type HistoryStore, parseRiskConfig, RiskEngine } from "../../src/policy/risk/index.js";
import type { History } from "./dataset.js";

export interface LoadedRisk {
  assessor: RiskAssessor;
  /** "risk engine (7 signals: …)". */
  description: string;
  engine: boolean;
}

/** Corporate egress, and the deny list an operator would configure (same ranges as zones.ts). */
export const RISK_CONFIG = {
  ipReputation: {
    allow: ["10.0.0.0/8", "172.16.0.0/12"],
    deny: ["45.155.205.0/24", "185.220.100.0/22", "5.160.0.0/16"],
  },
};

export async function loadRisk(histories: ReadonlyMap<string, History>, requests: readonly AccessRequest[]): Promise<LoadedRisk> {
  const config = parseRiskConfig(RISK_CONFIG, "risk");
  const engine = new RiskEngine(config, defaultSignals(config));
  const store: HistoryStore = {
    get: async (id) => histories.get(id) ?? emptyHistory(),
    recordSignIn: async () => undefined,
    flagCredential: async () => undefined,
    clearCredentialFlag: async () => undefined,
  };
  const assessor = new EngineRiskAssessor(engine, store, { ttlMs: 3600_000, maxSubjects: Math.max(10_000, histories.size) });
  for (const req of requests) await assessor.prepare(req);
  const names = engine.signalNames;
  const problems = engine.problems.length;
  return { assessor, engine: true, description: `risk engine (src/policy/risk), ${names.length} signals: ${names.join(", ")}, behind the history cache${problems ? `; ${problems} load problem(s)` : ""}` };
}
