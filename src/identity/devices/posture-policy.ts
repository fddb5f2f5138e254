/**
 * The posture policy: from a device's last posture, is it compliant now? Every requirement that
 * fails adds a reason, so a user can see everything to fix at once.
 *
 * Posture is a claim about the past. It counts only while it is younger than `maxAge` (measured
 * from the agent's `collectedAt`), and a check the agent could not tell (`unknown`) never
 * satisfies a requirement: zero trust asks the device to show compliance, not the server to
 * assume it (NIST SP 800-207 §2.1, tenet 5).
 */
import { z } from "zod";
import { TenetError } from "../../errors.js";
import { durationOption, formatDuration } from "../../policy/jit/duration.js";
import { POSTURE_CHECKS, type Posture, type PostureCheck } from "./posture.js";
import type { ComplianceResult } from "./types.js";

export interface PosturePolicyConfig {
  /** Minimum OS version per OS name (case-insensitive): `{ ubuntu: "22.04", macos: "14" }`. */
  minOsVersion?: Record<string, string> | undefined;
  /** When set, only these OS names are compliant. */
  allowedOs?: string[] | undefined;
  /** Checks that must be `on` (default: diskEncryption and firewall). */
  require?: PostureCheck[] | undefined;
  /** The device must report itself managed (default false). */
  requireManaged?: boolean | undefined;
  /** Posture older than this is stale: milliseconds or `24h` (default 24h). */
  maxAge?: number | string | undefined;
}

export const DEFAULT_REQUIRED_CHECKS: readonly PostureCheck[] = ["diskEncryption", "firewall"];
const DEFAULT_MAX_AGE_MS = 24 * 3600_000;

const VERSION = /^\d{1,9}(\.\d{1,9}){0,5}/;

const configSchema = z.strictObject({
  minOsVersion: z.record(z.string().min(1).max(64), z.string().regex(VERSION, "must be a version such as 12, 22.04 or 14.2.1").max(64)).optional(),
  allowedOs: z.array(z.string().min(1).max(64)).max(100).optional(),
  require: z.array(z.enum(POSTURE_CHECKS)).max(POSTURE_CHECKS.length).optional(),
  requireManaged: z.boolean().optional(),
  maxAge: z.union([z.number(), z.string()]).optional(),
});

/** Reads a policy from configuration (a parsed YAML/JSON object); throws `validation_error`. */
export function parsePosturePolicy(raw: unknown): PosturePolicy {
  const r = configSchema.safeParse(raw ?? {});
  if (!r.success) {
    const details = r.error.issues.map((i) => ({ where: ["devices", "posture", ...i.path.map(String)].join("."), message: i.message }));
    throw new TenetError("validation_error", `invalid posture policy: ${details.map((d) => `${d.where}: ${d.message}`).join("; ")}`, { details });
  }
  return new PosturePolicy(r.data);
}

/**
 * Compares the numeric prefixes of two versions (`22.04` < `24.04`, `14.2` = `14.2.0`); NaN when
 * either has none (`unknown`, `rolling`).
 */
export function compareVersions(a: string, b: string): number {
  const pa = VERSION.exec(a)?.[0];
  const pb = VERSION.exec(b)?.[0];
  if (pa === undefined || pb === undefined) return NaN;
  const xa = pa.split(".").map(Number);
  const xb = pb.split(".").map(Number);
  for (let i = 0; i < Math.max(xa.length, xb.length); i++) {
    const d = (xa[i] ?? 0) - (xb[i] ?? 0);
    if (d !== 0) return Math.sign(d);
  }
  return 0;
}

export class PosturePolicy {
  readonly maxAgeMs: number;
  readonly required: readonly PostureCheck[];
  readonly requireManaged: boolean;
  private readonly minOs: Map<string, string>;
  private readonly allowedOs: Set<string> | undefined;

  constructor(config: PosturePolicyConfig = {}) {
    this.maxAgeMs = durationOption(config.maxAge, DEFAULT_MAX_AGE_MS, "maxAge");
    this.required = [...new Set(config.require ?? DEFAULT_REQUIRED_CHECKS)];
    for (const c of this.required) {
      if (!(POSTURE_CHECKS as readonly string[]).includes(c)) throw new TenetError("validation_error", `unknown posture check '${c}' (known: ${POSTURE_CHECKS.join(", ")})`);
    }
    this.requireManaged = config.requireManaged ?? false;
    this.minOs = new Map();
    for (const [name, version] of Object.entries(config.minOsVersion ?? {})) {
      if (!VERSION.test(version)) throw new TenetError("validation_error", `minOsVersion.${name} must be a version such as 12, 22.04 or 14.2.1`);
      this.minOs.set(name.toLowerCase(), version);
    }
    this.allowedOs = config.allowedOs ? new Set(config.allowedOs.map((n) => n.toLowerCase())) : undefined;
  }

  /** The verdict for a device's last posture at time `now` (ms since the epoch). */
  evaluate(device: { posture?: Posture | undefined }, now: number): ComplianceResult {
    const p = device.posture;
    if (!p) return { compliant: false, reasons: ["no posture reported yet"] };
    const reasons: string[] = [];
    const collected = Date.parse(p.collectedAt);
    if (!(now - collected <= this.maxAgeMs)) {
      reasons.push(`posture is stale: collected at ${p.collectedAt}, more than ${formatDuration(this.maxAgeMs)} ago`);
    }
    const os = p.os.name.toLowerCase();
    if (this.allowedOs && !this.allowedOs.has(os)) reasons.push(`operating system '${p.os.name}' is not allowed`);
    const min = this.minOs.get(os);
    if (min !== undefined) {
      const c = compareVersions(p.os.version, min);
      if (Number.isNaN(c)) reasons.push(`${p.os.name} version '${p.os.version}' cannot be compared with the minimum ${min}`);
      else if (c < 0) reasons.push(`${p.os.name} ${p.os.version} is older than the minimum ${min}`);
    }
    for (const check of this.required) {
      if (p[check] !== "on") reasons.push(`${check} is ${p[check]} (required: on)`);
    }
    if (this.requireManaged && p.managed !== true) reasons.push(`the device is ${p.managed === false ? "not managed" : "not known to be managed"} (required: managed)`);
    return { compliant: reasons.length === 0, reasons };
  }
}
