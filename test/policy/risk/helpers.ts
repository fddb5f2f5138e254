/** Shared by the risk tests: a fixed clock, configs, inputs and temporary files. */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after } from "node:test";
import { parseRiskConfig, type RiskConfig } from "../../../src/policy/risk/config.js";
import { loadIpReputationLists, type IpReputationLists } from "../../../src/policy/risk/ip-lists.js";
import type { LoadProblem, RiskInput, SignalContext } from "../../../src/policy/risk/types.js";
import { parseIp } from "../../../src/policy/risk/ip.js";

/** 2026-03-10 14:30:00 UTC, a Tuesday afternoon. */
export const NOW = Date.UTC(2026, 2, 10, 14, 30);
export const MINUTE = 60_000;
export const HOUR = 60 * MINUTE;

export function config(raw: unknown = {}): RiskConfig {
  return parseRiskConfig(raw);
}

/** A request for `user:anne` at NOW; fields overridable. */
export function input(over: Partial<RiskInput> = {}): RiskInput {
  return { subject: { id: "user:anne" }, now: NOW, ...over };
}

export function ctxFor(i: RiskInput, c: RiskConfig = config()): SignalContext {
  const ip = i.request?.ip;
  return { config: c, clientIp: typeof ip === "string" ? parseIp(ip) : undefined };
}

/** A fresh temporary directory, removed after the file's tests. */
export function tempDir(prefix = "tenet-risk-"): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

export function writeFile(dir: string, name: string, text: string | Buffer): string {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}

export function lists(c: RiskConfig, baseDir: string): { lists: IpReputationLists; problems: LoadProblem[] } {
  const problems: LoadProblem[] = [];
  return { lists: loadIpReputationLists(c, baseDir, problems), problems };
}
