/**
 * The policy benchmark's access policies, generated as YAML text (what users keep in Git) from a
 * seeded RNG, then parsed and compiled by the real code path.
 *
 * A document request (action `viewer`) sees a handful of applicable policies out of the whole
 * set, as in a real deployment:
 * - 2 global policies (resource type `*`): Tor exits denied, stale device posture denied;
 * - `documents-baseline` (every document): embargoed countries and blocked networks denied, and
 *   the relationship rule `check("viewer")` with requirements by risk level;
 * - one of `documents-public`, `documents-confidential` (also restricted) by classification,
 *   plus `documents-restricted` for restricted ones;
 * - one of 10 `documents-range-k` policies (id glob `d{k}*`) with a team rule;
 * - `route-docs-api` (host docs.example.com, path /api/v1/documents/*, GET/HEAD).
 * The rest are looked at and rejected (document policies for other actions and id globs, 39
 * route policies for other hosts) or never looked at: policies spread over 200 other resource
 * types (`app-0` .. `app-199`), 4–5 each, built from the same rule templates.
 */
import type { PolicySource } from "../../src/policy/access/files.js";
import { Rng } from "../engine/rng.js";

export const APP_TYPES = 200;

interface Rule {
  name: string;
  effect: "allow" | "deny";
  when?: string;
  /** YAML lines below `require:` / `require_by_risk:` (already indented by 10). */
  require?: string[];
  byRisk?: string[];
}

interface Policy {
  name: string;
  description?: string;
  /** YAML lines below `target:` (indented by 6). */
  target: string[];
  rules: Rule[];
}

/** A YAML single-quoted scalar. */
const q = (s: string): string => `'${s.replace(/'/g, "''")}'`;

function yaml(p: Policy): string {
  const out = ["apiVersion: tenet.dev/v1", "kind: AccessPolicy", "metadata:", `  name: ${p.name}`];
  if (p.description) out.push(`  description: ${q(p.description)}`);
  out.push("spec:", "  target:", ...p.target.map((l) => `    ${l}`), "  rules:");
  for (const r of p.rules) {
    out.push(`    - name: ${r.name}`, `      effect: ${r.effect}`);
    if (r.when !== undefined) out.push(`      when: ${q(r.when)}`);
    if (r.require) out.push("      require:", ...r.require.map((l) => `        ${l}`));
    if (r.byRisk) out.push("      require_by_risk:", ...r.byRisk.map((l) => `        ${l}`));
  }
  return out.join("\n");
}

const BY_RISK_STANDARD = [
  "low: { acr: mfa }",
  "medium: { acr: mfa, max_age: 12h, device: [compliant] }",
  "high: { acr: phishing_resistant, max_age: 1h, device: [managed, compliant], approval: { approvers: { manager: true }, duration: 4h }, notify: [security] }",
  "critical: deny",
];
const BY_RISK_SENSITIVE = [
  "low: { acr: mfa, device: [compliant] }",
  "medium: { acr: phishing_resistant, max_age: 8h, device: [compliant] }",
  "high: { acr: hardware, max_age: 1h, approval: { approvers: { groups: [security-approvers] }, duration: 2h }, notify: [owner, security] }",
  "critical: deny",
];

function documentPolicies(): Policy[] {
  const out: Policy[] = [
    {
      name: "global-anonymizers",
      description: "No access from anonymising networks, whatever the resource.",
      target: ["resources: [{ type: '*' }]"],
      rules: [{ name: "tor-exit", effect: "deny", when: `"tor" in request.zones` }],
    },
    {
      name: "global-device-posture",
      description: "A registered device must have reported its posture within a week.",
      target: ["resources: [{ type: '*' }]"],
      rules: [{ name: "stale-posture", effect: "deny", when: "device.registered && device.posture_age > 604800.0" }],
    },
    {
      name: "documents-baseline",
      target: ["resources: [{ type: document }]", "actions: [viewer]"],
      rules: [
        { name: "embargoed-country", effect: "deny", when: `request.country in ["CU", "IR", "KP", "SY"]` },
        { name: "blocked-network", effect: "deny", when: `"blocked" in request.zones || "embargoed" in request.zones` },
        { name: "relationship", effect: "allow", when: `check("viewer")`, byRisk: BY_RISK_STANDARD },
      ],
    },
    {
      name: "documents-public",
      target: ["resources: [{ type: document, classification: [public] }]", "actions: [viewer]"],
      rules: [{ name: "employees", effect: "allow", when: `"employees" in subject.groups`, require: ["acr: mfa"] }],
    },
    {
      name: "documents-confidential",
      target: ["resources: [{ type: document, classification: [confidential, restricted] }]", "actions: [viewer]"],
      rules: [
        { name: "unmanaged-device", effect: "deny", when: "!device.managed" },
        { name: "engineering", effect: "allow", when: `"eng" in subject.groups && check("viewer")`, byRisk: BY_RISK_SENSITIVE },
      ],
    },
    {
      name: "documents-restricted",
      target: ["resources: [{ type: document, classification: [restricted] }]", "actions: [viewer]"],
      rules: [
        { name: "off-hours", effect: "deny", when: "request.hour < 6.0 || request.hour >= 22.0" },
        { name: "contractors", effect: "deny", when: `"contractors" in subject.groups` },
        { name: "owner", effect: "allow", when: `resource.owner == subject.id`, require: ["acr: phishing_resistant", "max_age: 4h", "device: [managed, compliant]"] },
      ],
    },
  ];
  for (let k = 0; k < 10; k++) {
    out.push({
      name: `documents-range-${k}`,
      target: [`resources: [{ type: document, id: 'd${k}*' }]`, "actions: [viewer, editor]"],
      rules: [
        { name: `team-${k}`, effect: "allow", when: `"team-${k}" in subject.groups && check("viewer")`, require: ["acr: mfa", "max_age: 24h"] },
        { name: "mobile-restricted", effect: "deny", when: `resource.classification == "restricted" && device.os.name in ["iOS", "Android"]` },
      ],
    });
  }
  for (const [k, action] of ["editor", "owner", "share", "delete", "comment", "export", "print", "download", "admin", "audit"].entries()) {
    out.push({
      name: `documents-${action}`,
      target: ["resources: [{ type: document }]", `actions: [${action}]`],
      rules: [
        { name: "relationship", effect: "allow", when: `check("${k < 2 ? action : "editor"}")`, byRisk: BY_RISK_STANDARD },
        { name: "contractors", effect: "deny", when: `"contractors" in subject.groups && resource.classification != "public"` },
      ],
    });
  }
  for (const dept of ["hr", "legal", "finance", "board", "payroll", "security", "audit", "mna", "ir", "exec"]) {
    out.push({
      name: `documents-${dept}-folder`,
      target: [`resources: [{ type: document, id: '${dept}-*' }]`],
      rules: [
        { name: "department", effect: "allow", when: `"${dept}" in subject.groups && check("viewer")`, byRisk: BY_RISK_SENSITIVE },
        { name: "outside-office", effect: "deny", when: `!("corp" in request.zones)` },
      ],
    });
  }
  out.push({
    name: "route-docs-api",
    description: "The documents API: reads only, through the gateway.",
    target: ["routes: [{ host: docs.example.com, path: '/api/v1/documents/*', methods: [GET, HEAD] }]"],
    rules: [
      { name: "scripted-clients", effect: "deny", when: `request.user_agent.startsWith("curl/")` },
      { name: "readers", effect: "allow", when: `check("viewer") && request.method in ["GET", "HEAD"]`, byRisk: ["low: { acr: mfa }", "medium: { acr: phishing_resistant, max_age: 12h }", "critical: deny"] },
    ],
  });
  const hosts = ["grafana", "kibana", "jenkins", "argo", "vault", "wiki", "jira", "git", "ci", "registry", "payroll", "crm", "erp"];
  for (let k = 0; out.length < 6 + 10 + 10 + 10 + 1 + 39; k++) {
    const host = hosts[k % hosts.length]!;
    out.push({
      name: `route-${host}-${k}`,
      target: [`routes: [{ host: '${host}${k >= hosts.length ? `-${Math.floor(k / hosts.length)}` : ""}.example.com', path: '/${["api", "ui", "admin"][k % 3]}/**' }]`],
      rules: [
        { name: "sso", effect: "allow", when: `"employees" in subject.groups`, require: ["acr: mfa"] },
        { name: "off-network", effect: "deny", when: `!("corp" in request.zones) && request.method != "GET"` },
      ],
    });
  }
  return out;
}

const DEPTS = ["eng", "sales", "finance", "hr", "ops", "legal", "support", "marketing"];
const RELATIONS = ["viewer", "editor", "admin", "operator", "member"];

/** Rule templates for the other resource types. */
function appRule(r: Rng, n: number): Rule {
  const dept = DEPTS[r.int(DEPTS.length)]!;
  switch (r.int(9)) {
    case 0:
      return { name: `rel-${n}`, effect: "allow", when: `check("${RELATIONS[r.int(RELATIONS.length)]}")`, byRisk: r.chance(0.5) ? BY_RISK_STANDARD : BY_RISK_SENSITIVE };
    case 1:
      return { name: `dept-${n}`, effect: "allow", when: `"${dept}" in subject.groups && device.compliant`, require: ["acr: mfa", "max_age: 12h"] };
    case 2:
      return { name: `countries-${n}`, effect: "deny", when: `request.country in ["CU", "IR", "KP", "SY", "${["RU", "BY", "VE"][r.int(3)]}"]` };
    case 3:
      return { name: `tor-${n}`, effect: "deny", when: `"tor" in request.zones || "blocked" in request.zones` };
    case 4:
      return { name: `hours-${n}`, effect: "allow", when: `subject.groups.exists(g, g.startsWith("team-")) && request.hour >= 7.0 && request.hour < 19.0`, require: ["acr: mfa", "device: [registered]"] };
    case 5:
      return { name: `mobile-${n}`, effect: "deny", when: `device.os.name == "${["Android", "iOS", "Linux"][r.int(3)]}" && resource.classification == "restricted"` };
    case 6:
      return { name: `oncall-${n}`, effect: "allow", when: `"${dept}" in subject.groups && check("operator")`, byRisk: ["low: { acr: phishing_resistant }", "medium: { acr: hardware, max_age: 1h }", `high: { acr: hardware, max_age: 15m, approval: { approvers: { users: ['user:u${r.int(5000)}'] }, duration: 1h } }`, "critical: deny"] };
    case 7:
      return { name: `risk-${n}`, effect: "deny", when: `risk.score >= ${70 + r.int(20)}.0 || "flagged_credential" in risk.reasons` };
    default:
      return { name: `amr-${n}`, effect: "allow", when: `"hwk" in subject.amr && device.managed && check("viewer")`, require: ["max_age: 8h"] };
  }
}

function appPolicy(r: Rng, n: number): Policy {
  const type = `app-${n % APP_TYPES}`;
  const target: string[] = [];
  const idGlob = r.chance(0.4) ? `, id: '${["prod", "staging", "dev", "eu", "us"][r.int(5)]}-*'` : "";
  const cls = r.chance(0.3) ? `, classification: [${["internal", "confidential", "restricted"].slice(r.int(3)).join(", ")}]` : "";
  target.push(`resources: [{ type: ${type}${idGlob}${cls} }]`);
  if (r.chance(0.6)) target.push(`actions: [${RELATIONS.slice(0, 1 + r.int(RELATIONS.length)).join(", ")}]`);
  const rules: Rule[] = [];
  const names = new Set<string>();
  const count = 1 + r.int(4);
  for (let k = 0; k < count; k++) {
    const rule = appRule(r, k);
    if (!names.has(rule.name)) {
      names.add(rule.name);
      rules.push(rule);
    }
  }
  return { name: `${type}-p${n}`, target, rules };
}

export interface GeneratedPolicies {
  sources: PolicySource[];
  /** Policies by group, for the report. */
  documentPolicies: number;
  routePolicies: number;
  appPolicies: number;
  rules: number;
  yamlBytes: number;
}

/** `total` policies (at least the document and route ones), as YAML files of up to 100 documents. */
export function makePolicies(seed: number, total: number): GeneratedPolicies {
  const r = new Rng(seed);
  const fixed = documentPolicies();
  const apps: Policy[] = [];
  for (let n = 0; fixed.length + apps.length < total; n++) apps.push(appPolicy(r, n));
  const sources: PolicySource[] = [];
  const toFile = (file: string, ps: Policy[]): void => {
    for (let i = 0; i < ps.length; i += 100) {
      sources.push({ file: ps.length > 100 ? file.replace(".yaml", `-${i / 100}.yaml`) : file, text: ps.slice(i, i + 100).map(yaml).join("\n---\n") + "\n" });
    }
  };
  toFile("policies/documents.yaml", fixed);
  toFile("policies/apps.yaml", apps);
  const all = [...fixed, ...apps];
  return {
    sources,
    documentPolicies: fixed.filter((p) => !p.name.startsWith("route-")).length,
    routePolicies: fixed.filter((p) => p.name.startsWith("route-")).length,
    appPolicies: apps.length,
    rules: all.reduce((a, p) => a + p.rules.length, 0),
    yamlBytes: sources.reduce((a, s) => a + Buffer.byteLength(s.text), 0),
  };
}
