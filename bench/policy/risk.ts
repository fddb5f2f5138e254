/**
 * The risk assessor of the benchmark's decision point: the risk engine (src/policy/risk) behind
 * a small adapter implementing the decision point's `RiskAssessor`, fed with each subject's
 * history as a history store would hold it; or, when the engine cannot be loaded, a fixed
 * assessment (and the report says so).
 *
 * The engine is imported dynamically and checked for the API this adapter uses, so that the
 * benchmark keeps building and running while that module is being changed.
 */
import type { RiskAssessor } from "../../src/policy/access/decision-point.js";
import type { AccessRequest, RiskAssessment } from "../../src/policy/access/types.js";
import type { History } from "./dataset.js";

interface RiskEngineLike {
  assess(input: { subject: unknown; device?: unknown; request?: unknown; resource?: unknown; now: number; history?: unknown }): RiskAssessment;
  readonly signalNames?: string[];
  readonly problems?: unknown[];
}

interface RiskModule {
  RiskEngine: new (config: unknown, signals: unknown[]) => RiskEngineLike;
  parseRiskConfig(raw: unknown, where?: string): unknown;
  defaultSignals(config: unknown): unknown[];
}

export interface LoadedRisk {
  assessor: RiskAssessor;
  /** "risk engine (7 signals: …)" or "fixed … (why)". */
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

export const FIXED_RISK: RiskAssessment = { score: 10, level: "low", reasons: [] };

const MODULE = "../../src/policy/risk/index.js";

export async function loadRisk(histories: ReadonlyMap<string, History>): Promise<LoadedRisk> {
  let why: string;
  try {
    const m = (await import(MODULE)) as Partial<RiskModule>;
    if (typeof m.RiskEngine !== "function" || typeof m.parseRiskConfig !== "function" || typeof m.defaultSignals !== "function") {
      why = `${MODULE} lacks RiskEngine, parseRiskConfig or defaultSignals`;
    } else {
      const config = m.parseRiskConfig(RISK_CONFIG, "risk");
      const engine = new m.RiskEngine(config, m.defaultSignals(config));
      const assessor: RiskAssessor = {
        assessNow: (req: AccessRequest, now: number) =>
          engine.assess({ subject: req.subject, device: req.device, request: req.request, resource: req.resource, now, history: histories.get(req.subject.id) }),
        prepare: async () => undefined,
      };
      const names = engine.signalNames ?? [];
      const problems = engine.problems?.length ?? 0;
      return { assessor, engine: true, description: `risk engine (src/policy/risk), ${names.length} signals: ${names.join(", ")}${problems ? `; ${problems} load problem(s)` : ""}` };
    }
  } catch (err) {
    why = `${MODULE} could not be loaded: ${(err instanceof Error ? err.message : String(err)).split("\n")[0]}`;
  }
  return {
    assessor: { assessNow: () => FIXED_RISK, prepare: async () => undefined },
    engine: false,
    description: `FIXED risk assessment (score ${FIXED_RISK.score}, ${FIXED_RISK.level}) because ${why}`,
  };
}
