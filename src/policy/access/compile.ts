/**
 * Compiles validated policy documents into what the evaluator runs: CEL programs type-checked
 * once, target globs as regular expressions, and an index from resource type to the policies
 * that may apply, so that a decision looks at the few relevant policies out of thousands.
 */
import type { ParseResult } from "@marcbachmann/cel-js";
import { ACCESS_ENV } from "./cel-env.js";
import { type RelationModel, relationProblems } from "./relations.js";
import { type AccessPolicyDoc, checkNames, parseDuration, type PolicyProblem, PolicyValidationError, type Requirements, type SourcedPolicy } from "./document.js";
import type { AssuranceLevel, Classification, RiskLevel } from "./types.js";

export interface CompiledRequirements {
  acr?: Exclude<AssuranceLevel, "none"> | undefined;
  maxAgeSeconds?: number | undefined;
  device?: Array<"registered" | "managed" | "compliant"> | undefined;
  approval?: { approvers: { users?: string[] | undefined; groups?: string[] | undefined; manager?: boolean | undefined }; durationSeconds: number } | undefined;
  notify?: string[] | undefined;
}

export interface CompiledRule {
  name: string;
  effect: "allow" | "deny";
  /** undefined = always. */
  when: ParseResult | undefined;
  whenSource: string | undefined;
  /** Requirements whatever the risk, or per level ("deny" = refused at that level). */
  require: CompiledRequirements | undefined;
  byRisk: Partial<Record<RiskLevel, CompiledRequirements | "deny">> | undefined;
}

interface ResourceTarget {
  type: string;
  id: RegExp | undefined;
  classification: ReadonlySet<Classification> | undefined;
}

interface RouteTarget {
  /** The host when it has no wildcard (lower case): indexed. */
  exactHost: string | undefined;
  host: RegExp | undefined;
  path: RegExp | undefined;
  methods: ReadonlySet<string> | undefined;
}

export interface CompiledPolicy {
  name: string;
  doc: AccessPolicyDoc;
  resources: ResourceTarget[];
  routes: RouteTarget[];
  actions: ReadonlySet<string> | undefined;
  rules: CompiledRule[];
  /** `rules` split by effect (each in document order): deny rules are judged first. */
  denyRules: CompiledRule[];
  allowRules: CompiledRule[];
}

export interface CompiledPolicySet {
  policies: CompiledPolicy[];
  /** Policies with a resource target of this type (`*` = any type). */
  byType: Map<string, CompiledPolicy[]>;
  /** Policies with a route target. */
  withRoutes: CompiledPolicy[];
  /** Route policies by exact host, and those with a route for any or a wildcard host. */
  routesByHost: Map<string, CompiledPolicy[]>;
  routesAnyHost: CompiledPolicy[];
}

const DEFAULT_APPROVAL_SECONDS = 3600;

/** `*` matches any run of characters except `sep` (when given); `**` matches across it. */
export function globToRegExp(glob: string, sep?: string): RegExp {
  let re = "^";
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i]!;
    if (c === "*") {
      if (glob[i + 1] === "*") {
        re += ".*";
        i++;
      } else re += sep ? `[^${sep === "/" ? "/" : "\\."}]*` : ".*";
    } else if (c === "?") re += sep ? `[^${sep === "/" ? "/" : "\\."}]` : ".";
    else re += c.replace(/[.+^${}()|[\]\\]/g, "\\$&");
  }
  return new RegExp(`${re}$`);
}

function requirements(r: Requirements): CompiledRequirements {
  return {
    acr: r.acr,
    maxAgeSeconds: r.max_age === undefined ? undefined : parseDuration(r.max_age),
    device: r.device,
    approval: r.approval ? { approvers: r.approval.approvers, durationSeconds: r.approval.duration ? parseDuration(r.approval.duration) : DEFAULT_APPROVAL_SECONDS } : undefined,
    notify: r.notify,
  };
}

function compileRule(p: SourcedPolicy, i: number, problems: PolicyProblem[]): CompiledRule | undefined {
  const rule = p.doc.spec.rules[i]!;
  const line = p.ruleLines[i] ?? p.line;
  let when: ParseResult | undefined;
  if (rule.when !== undefined) {
    try {
      when = ACCESS_ENV.parse(rule.when);
      const checked = when.check();
      if (!checked.valid) {
        problems.push({ file: p.file, line, reason: `rule '${rule.name}': ${firstLine(checked.error)}` });
        return undefined;
      }
      if (checked.type !== "bool" && checked.type !== "dyn") {
        problems.push({ file: p.file, line, reason: `rule '${rule.name}': 'when' must be a bool expression, not ${checked.type}` });
        return undefined;
      }
    } catch (err) {
      problems.push({ file: p.file, line, reason: `rule '${rule.name}': CEL syntax error: ${firstLine(err)}` });
      return undefined;
    }
  }
  let byRisk: CompiledRule["byRisk"];
  if (rule.require_by_risk) {
    byRisk = {};
    for (const [level, req] of Object.entries(rule.require_by_risk)) {
      if (req !== undefined) byRisk[level as RiskLevel] = req === "deny" ? "deny" : requirements(req);
    }
  }
  return { name: rule.name, effect: rule.effect, when, whenSource: rule.when, require: rule.require ? requirements(rule.require) : undefined, byRisk };
}

function firstLine(err: unknown): string {
  const text = err instanceof Error ? err.message : String(err);
  return text.split("\n")[0] ?? text;
}

/** Compiles a whole set or throws PolicyValidationError with every problem (file and line). */
export function compilePolicySet(policies: SourcedPolicy[], initialProblems: PolicyProblem[] = [], model?: RelationModel): CompiledPolicySet {
  const problems = [...initialProblems];
  checkNames(policies, problems);
  const compiled: CompiledPolicy[] = [];
  for (const p of policies) {
    const rules: CompiledRule[] = [];
    const t = p.doc.spec.target;
    const types = [...new Set((t.resources ?? []).map((r) => r.type))];
    p.doc.spec.rules.forEach((_, i) => {
      const r = compileRule(p, i, problems);
      if (!r) return;
      rules.push(r);
      if (model) for (const reason of relationProblems(r, types, model)) problems.push({ file: p.file, line: p.ruleLines[i] ?? p.line, reason: `rule '${r.name}': ${reason}` });
    });
    compiled.push({
      name: p.doc.metadata.name,
      doc: p.doc,
      resources: (t.resources ?? []).map((r) => ({ type: r.type, id: r.id === undefined || r.id === "*" ? undefined : globToRegExp(r.id), classification: r.classification ? new Set(r.classification) : undefined })),
      routes: (t.routes ?? []).map((r) => ({
        exactHost: r.host === undefined || /[*?]/.test(r.host) ? undefined : r.host.toLowerCase(),
        host: r.host === undefined || r.host === "*" ? undefined : globToRegExp(r.host.toLowerCase(), "."),
        path: r.path === undefined || r.path === "/**" ? undefined : globToRegExp(r.path, "/"),
        methods: r.methods ? new Set(r.methods) : undefined,
      })),
      actions: t.actions ? new Set(t.actions) : undefined,
      rules,
      denyRules: rules.filter((r) => r.effect === "deny"),
      allowRules: rules.filter((r) => r.effect === "allow"),
    });
  }
  if (problems.length > 0) throw new PolicyValidationError(problems);
  const byType = new Map<string, CompiledPolicy[]>();
  const withRoutes: CompiledPolicy[] = [];
  for (const p of compiled) {
    for (const type of new Set(p.resources.map((r) => r.type))) {
      let list = byType.get(type);
      if (!list) byType.set(type, (list = []));
      list.push(p);
    }
    if (p.routes.length > 0) withRoutes.push(p);
  }
  const routesByHost = new Map<string, CompiledPolicy[]>();
  const routesAnyHost: CompiledPolicy[] = [];
  for (const p of withRoutes) {
    const hosts = new Set(p.routes.map((r) => r.exactHost));
    if (hosts.has(undefined)) routesAnyHost.push(p);
    for (const h of hosts) {
      if (h === undefined) continue;
      let list = routesByHost.get(h);
      if (!list) routesByHost.set(h, (list = []));
      list.push(p);
    }
  }
  return { policies: compiled, byType, withRoutes, routesByHost, routesAnyHost };
}
