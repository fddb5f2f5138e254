/**
 * The risk engine's configuration: one zod schema with a default for every field, parsed once at
 * start from a plain object (so it can come from YAML or JSON). Unknown keys are errors (a
 * misspelt weight must not silently do nothing), and every error names the field to change.
 *
 * Example (YAML):
 *
 *   weights: { impossible_travel: 1.5, unusual_hour: 0 }     # 0 turns a signal off
 *   thresholds: { medium: 30, high: 60, critical: 85 }
 *   timezoneOffsetMinutes: 60
 *   ipReputation:
 *     allow: ["10.0.0.0/8", "2001:db8:100::/48"]              # corporate egress
 *     denyFiles: [/etc/tenet/deny.txt]
 *     feeds: [{ name: spamhaus-drop, file: /var/lib/tenet/drop.txt, score: 70 }]
 *   impossibleTravel: { maxSpeedKmh: 900, geoDatabase: /var/lib/tenet/GeoLite2-City.mmdb }
 *   failedSignIns: { windowMinutes: 30 }
 *
 * Scores are 0..100 before the signal's weight; relative file paths are resolved against the
 * `baseDir` given to loadRiskResources.
 */
import { z } from "zod";
import { TenetError } from "../../errors.js";
import { parseCidr } from "./ip.js";

const score = (dflt: number) => z.number().min(0).max(100).default(dflt);
const file = z.string().min(1, "must be a file path");
const cidr = z.string().refine((s) => parseCidr(s.trim()) !== undefined, "must be an IP address or CIDR range (e.g. 192.0.2.0/24, 2001:db8::/32)");

/** Zod 4's `.default()` on an object does not apply the inner defaults; `.prefault` does. */
function section<S extends z.ZodRawShape>(shape: S) {
  const schema = z.strictObject(shape);
  // Every field of a section has a default, so `{}` is a valid input; zod cannot see that generically.
  return schema.prefault({} as z.input<typeof schema>);
}

export const SIGNAL_NAMES = [
  "ip_reputation",
  "impossible_travel",
  "new_device",
  "unusual_hour",
  "failed_sign_ins",
  "flagged_credential",
  "resource_sensitivity",
] as const;

const thresholds = z
  .strictObject({
    medium: z.number().int().min(1).max(100).default(30),
    high: z.number().int().min(1).max(100).default(60),
    critical: z.number().int().min(1).max(100).default(85),
  })
  .prefault({})
  .superRefine((t, ctx) => {
    if (t.high <= t.medium) ctx.addIssue({ code: "custom", path: ["high"], message: `must be greater than thresholds.medium (${t.medium})` });
    if (t.critical <= t.high) ctx.addIssue({ code: "custom", path: ["critical"], message: `must be greater than thresholds.high (${t.high})` });
  });

export const riskConfigSchema = z.strictObject({
  /**
   * Multiplies each signal's score (default 1; 0 turns the signal off). Names of custom signals
   * are allowed; a name no signal of the engine has is refused when the engine is built.
   */
  weights: z.record(z.string().regex(/^[a-z][a-z0-9_]*$/, "must be a signal name (lower case, digits, _)"), z.number().min(0).max(10)).default({}),
  /** Lowest score of each level: low < medium ≤ score < high ≤ ... < critical ≤ score. */
  thresholds,
  /** Hour-of-day histograms use UTC shifted by this; the history store must use the same. */
  timezoneOffsetMinutes: z.number().int().min(-14 * 60).max(14 * 60).default(0),
  /** The score (before weight) of a signal that throws: a broken signal makes the engine more cautious. */
  signalFailureScore: score(50),

  ipReputation: section({
    /** CIDRs or addresses; an allowed address scores 0 for this signal (the deny list still wins). */
    allow: z.array(cidr).default([]),
    deny: z.array(cidr).default([]),
    /** Files of one CIDR or address per line, `#` (or `;`) comments. */
    allowFiles: z.array(file).default([]),
    denyFiles: z.array(file).default([]),
    /** Threat feeds, same file format; each may override `scores.feed`. */
    feeds: z.array(z.strictObject({ name: z.string().min(1).max(64), file, score: z.number().min(0).max(100).optional() })).default([]),
    scores: section({
      deny: score(90),
      feed: score(60),
      /** No client IP, or one that does not parse. */
      missingIp: score(25),
      /** Added while a deny list or feed failed to load (missing, unreadable, empty or with malformed lines). */
      feedUnavailable: score(20),
    }),
  }),

  impossibleTravel: section({
    maxSpeedKmh: z.number().positive().default(1000),
    /** Below this distance there is no verdict: geolocation is not precise enough. */
    minDistanceKm: z.number().min(0).default(100),
    score: score(75),
    /** When either place is unknown. 0 (the default) = no verdict, see the signal. */
    unknownLocationScore: score(0),
    /** A MaxMind DB (GeoLite2-City layout); without it, the small built-in test dataset is used. */
    geoDatabase: file.optional(),
    /** Added while the configured database failed to load. */
    geoDatabaseUnavailableScore: score(20),
  }),

  newDevice: section({
    missingDeviceScore: score(30),
    unknownDeviceScore: score(25),
    unregisteredDeviceScore: score(15),
  }),

  unusualHour: section({
    /** Fewer sign-ins than this in the histogram: no verdict. */
    minSignIns: z.number().int().min(1).default(20),
    /** An hour with a smaller share of the subject's sign-ins than this is unusual. */
    minShare: z.number().min(0).max(1).default(0.02),
    score: score(20),
  }),

  failedSignIns: section({
    windowMinutes: z.number().positive().max(7 * 24 * 60).default(15),
    scorePerFailure: score(10),
    maxScore: score(50),
  }),

  flaggedCredential: section({
    score: score(90),
    /** When no history at all is known for the subject (e.g. the history store is down). */
    historyUnavailableScore: score(10),
  }),

  resourceSensitivity: section({
    public: score(0),
    internal: score(5),
    /** Also used for a resource without a classification. */
    confidential: score(15),
    /** Also used for a classification Tenet does not know (a typo is not "public"). */
    restricted: score(30),
  }),

  /** Bounds of what the history stores keep per subject. */
  history: section({
    maxSignIns: z.number().int().min(1).max(1000).default(20),
    maxKnownDevices: z.number().int().min(1).max(1000).default(32),
    maxFailedSignIns: z.number().int().min(1).max(1000).default(50),
    /** When the histogram's total reaches this, every count is halved: old habits fade. */
    histogramDecayAt: z.number().int().min(48).default(1000),
    /** Subjects kept by the in-memory store (least recently used dropped first). */
    maxSubjects: z.number().int().min(1).default(100_000),
  }),
});

export type RiskConfig = z.output<typeof riskConfigSchema>;
export type RiskConfigInput = z.input<typeof riskConfigSchema>;

/** `a.b[0].c` from a zod issue path. */
function fieldPath(path: readonly PropertyKey[], prefix: string): string {
  let out = prefix;
  for (const p of path) out += typeof p === "number" ? `[${p}]` : out === "" ? String(p) : `.${String(p)}`;
  return out === "" ? "(risk configuration)" : out;
}

/**
 * Validates and completes a risk configuration. Throws a `validation_error` TenetError whose
 * details name each wrong field (prefixed with `where`, e.g. `risk`, when the object sits inside
 * a larger configuration).
 */
export function parseRiskConfig(raw: unknown = {}, where = ""): RiskConfig {
  const r = riskConfigSchema.safeParse(raw ?? {});
  if (r.success) return r.data;
  const details: { where: string; message: string }[] = [];
  for (const i of r.error.issues) {
    if (i.code === "unrecognized_keys") {
      // Name the misspelt key itself, not the object holding it.
      for (const key of i.keys) details.push({ where: fieldPath([...i.path, key], where), message: "is not a risk setting (check the spelling)" });
    } else if (i.code === "invalid_key") {
      // A bad record key (a weight's signal name): zod nests the real message.
      details.push({ where: fieldPath(i.path, where), message: `key: ${i.issues[0]?.message ?? i.message}` });
    } else {
      details.push({ where: fieldPath(i.path, where), message: i.message });
    }
  }
  throw new TenetError("validation_error", `invalid risk configuration: ${details.map((d) => `${d.where}: ${d.message}`).join("; ")}`, { details });
}
