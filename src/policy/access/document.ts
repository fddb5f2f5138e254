/**
 * Access policies as documents: YAML (one or many per file, `---` separated) that users keep in
 * Git. Parsing keeps each document's file and line so that every problem, down to a CEL error in
 * one rule, is reported as `file:line: reason`. Validation is strict (unknown fields refused).
 *
 *   apiVersion: tenet.dev/v1
 *   kind: AccessPolicy
 *   metadata: { name: prod-monitoring, description: ... }
 *   spec:
 *     target:
 *       resources: [{ type: dashboard, id: "prod-*", classification: [confidential] }]
 *       routes: [{ host: "grafana.example.com", path: "/d/**", methods: [GET] }]
 *       actions: [viewer]
 *     rules:
 *       - name: engineers
 *         effect: allow
 *         when: check("viewer")
 *         require_by_risk:
 *           low: { acr: mfa }
 *           medium: { acr: mfa, device: [compliant] }
 *           high: { acr: hardware, approval: { approvers: { manager: true } }, notify: [manager] }
 *           critical: deny
 */
import { isMap, isSeq, LineCounter, parseAllDocuments, type Node as YamlNode } from "yaml";
import { z } from "zod";
import { TenetError } from "../../errors.js";
import { ASSURANCE_LEVELS, CLASSIFICATIONS } from "./types.js";

export const API_VERSION = "tenet.dev/v1";

const NAME = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;
const DURATION = /^(\d+)(s|m|h|d)$/;

/** "90s", "15m", "12h", "7d" → seconds. */
export function parseDuration(text: string): number {
  const m = DURATION.exec(text);
  if (!m) throw new Error(`'${text}' is not a duration (use e.g. 90s, 15m, 12h, 7d)`);
  return Number(m[1]) * { s: 1, m: 60, h: 3600, d: 86400 }[m[2] as "s" | "m" | "h" | "d"];
}

const duration = z.string().refine((s) => DURATION.test(s), { message: "a duration such as 90s, 15m, 12h or 7d" });

const requirementsSchema = z.strictObject({
  /** The minimum assurance level (a level's short name or its acr URI). */
  acr: z.enum(ASSURANCE_LEVELS.filter((l) => l !== "none") as ["mfa", "phishing_resistant", "hardware"]).optional(),
  /** The authentication must be at most this old (OIDC max_age). */
  max_age: duration.optional(),
  /** What the device must be. */
  device: z.array(z.enum(["registered", "managed", "compliant"])).min(1).optional(),
  /** Just-in-time approval: who approves, and for how long a grant lasts. */
  approval: z
    .strictObject({
      approvers: z.strictObject({
        users: z.array(z.string().min(3).max(256)).optional(),
        groups: z.array(z.string().min(3).max(256)).optional(),
        manager: z.boolean().optional(),
      }),
      duration: duration.optional(),
    })
    .optional(),
  /** Who is told when access is granted (e.g. the subject's manager). */
  notify: z.array(z.enum(["manager", "owner", "security"])).min(1).optional(),
});
export type Requirements = z.infer<typeof requirementsSchema>;

const riskRequirement = z.union([z.literal("deny"), requirementsSchema]);

const ruleSchema = z.strictObject({
  name: z.string().regex(NAME, "lower-case letters, digits and dashes"),
  description: z.string().max(1000).optional(),
  effect: z.enum(["allow", "deny"]),
  /** CEL over subject, device, request, resource, risk and action; absent = always. */
  when: z.string().min(1).max(4000).optional(),
  require: requirementsSchema.optional(),
  /** Requirements per risk level; `deny` refuses at that level. */
  require_by_risk: z
    .strictObject({
      low: riskRequirement.optional(),
      medium: riskRequirement.optional(),
      high: riskRequirement.optional(),
      critical: riskRequirement.optional(),
    })
    .optional(),
});
export type RuleDoc = z.infer<typeof ruleSchema>;

const glob = z.string().min(1).max(512);
const targetSchema = z.strictObject({
  resources: z
    .array(
      z.strictObject({
        type: z.string().min(1).max(254),
        /** Glob over the resource id (`*` any run of characters); default every id. */
        id: glob.optional(),
        classification: z.array(z.enum(CLASSIFICATIONS as ["public", "internal", "confidential", "restricted"])).min(1).optional(),
      }),
    )
    .optional(),
  routes: z
    .array(
      z.strictObject({
        /** Glob over the host (`*` within a label run, e.g. `*.example.com`). */
        host: glob.optional(),
        /** Glob over the path: `*` within a segment, `**` across segments. */
        path: glob.optional(),
        methods: z.array(z.string().regex(/^[A-Z]+$/, "an upper-case HTTP method")).min(1).optional(),
      }),
    )
    .optional(),
  actions: z.array(z.string().min(1).max(50)).min(1).optional(),
});

export const policySchema = z.strictObject({
  apiVersion: z.literal(API_VERSION),
  kind: z.literal("AccessPolicy"),
  metadata: z.strictObject({
    name: z.string().regex(NAME, "lower-case letters, digits and dashes, at most 63"),
    description: z.string().max(2000).optional(),
    labels: z.record(z.string(), z.string()).optional(),
  }),
  spec: z.strictObject({
    target: targetSchema.refine((t) => (t.resources?.length ?? 0) + (t.routes?.length ?? 0) > 0, { message: "a target needs at least one resource or route" }),
    rules: z.array(ruleSchema).min(1).max(100),
  }),
});
export type AccessPolicyDoc = z.infer<typeof policySchema>;

/** A policy with where it came from. */
export interface SourcedPolicy {
  doc: AccessPolicyDoc;
  file: string;
  line: number;
  /** Line of each rule (by index), for errors found later (CEL). */
  ruleLines: number[];
}

export interface PolicyProblem {
  file: string;
  line: number;
  reason: string;
}

/** Thrown with every problem found; nothing is applied when there is any. */
export class PolicyValidationError extends TenetError {
  constructor(readonly problems: PolicyProblem[]) {
    super("validation_error", `invalid access policies:\n${problems.map((p) => `${p.file}:${p.line}: ${p.reason}`).join("\n")}`, {
      details: problems.map((p) => ({ where: `${p.file}:${p.line}`, message: p.reason })),
    });
  }
}

/** The line (1-based) of the YAML node at `path` inside `root`, or of the closest ancestor. */
function lineOf(root: YamlNode | null, path: (string | number)[], lc: LineCounter): number {
  let node: unknown = root;
  let best = (root as { range?: [number] } | null)?.range?.[0] ?? 0;
  for (const key of path) {
    if (isMap(node)) node = node.get(key, true);
    else if (isSeq(node) && typeof key === "number") node = node.get(key, true);
    else break;
    const start = (node as { range?: [number] } | undefined)?.range?.[0];
    if (start === undefined) break;
    best = start;
  }
  return lc.linePos(best).line;
}

/** Parses the policy documents of one file; problems are appended to `problems`. */
export function parsePolicyFile(text: string, file: string, problems: PolicyProblem[]): SourcedPolicy[] {
  const lc = new LineCounter();
  const docs = parseAllDocuments(text, { lineCounter: lc, uniqueKeys: true, prettyErrors: false });
  const out: SourcedPolicy[] = [];
  for (const d of Array.isArray(docs) ? docs : [docs]) {
    if (d.errors.length > 0) {
      for (const e of d.errors) problems.push({ file, line: e.linePos?.[0]?.line ?? lc.linePos(e.pos[0]).line, reason: `YAML: ${e.message.split("\n")[0]}` });
      continue;
    }
    const value: unknown = d.toJS({ maxAliasCount: 50 });
    if (value === null || value === undefined) continue; // an empty document (e.g. a trailing ---)
    // Policy tests may live beside the policies they test.
    if (typeof value === "object" && (value as { kind?: unknown }).kind === "AccessPolicyTest") continue;
    const r = policySchema.safeParse(value);
    if (!r.success) {
      for (const issue of r.error.issues) {
        const path = issue.path.map((p) => (typeof p === "number" ? p : String(p)));
        problems.push({ file, line: lineOf(d.contents, path, lc), reason: `${path.join(".") || "(document)"}: ${issue.message}` });
      }
      continue;
    }
    const rules = r.data.spec.rules;
    out.push({
      doc: r.data,
      file,
      line: lineOf(d.contents, [], lc),
      ruleLines: rules.map((_, i) => lineOf(d.contents, ["spec", "rules", i], lc)),
    });
  }
  return out;
}

/** Names must be unique across the whole set, as must rule names within a policy. */
export function checkNames(policies: SourcedPolicy[], problems: PolicyProblem[]): void {
  const seen = new Map<string, SourcedPolicy>();
  for (const p of policies) {
    const prev = seen.get(p.doc.metadata.name);
    if (prev) problems.push({ file: p.file, line: p.line, reason: `policy '${p.doc.metadata.name}' is also defined at ${prev.file}:${prev.line}` });
    else seen.set(p.doc.metadata.name, p);
    const rules = new Set<string>();
    p.doc.spec.rules.forEach((rule, i) => {
      if (rules.has(rule.name)) problems.push({ file: p.file, line: p.ruleLines[i] ?? p.line, reason: `rule '${rule.name}' appears twice in policy '${p.doc.metadata.name}'` });
      rules.add(rule.name);
      if (rule.require && rule.require_by_risk) {
        problems.push({ file: p.file, line: p.ruleLines[i] ?? p.line, reason: `rule '${rule.name}': use either require or require_by_risk, not both` });
      }
      if (rule.effect === "deny" && (rule.require || rule.require_by_risk)) {
        problems.push({ file: p.file, line: p.ruleLines[i] ?? p.line, reason: `rule '${rule.name}': a deny rule has no requirements` });
      }
    });
  }
}
