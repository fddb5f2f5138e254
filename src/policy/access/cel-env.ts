/**
 * The CEL environment of access-policy rules. Variables are typed with the attributes Tenet
 * knows (types.ts), so a rule that names an unknown attribute (`device.compliance`) is refused
 * when the policy is applied, not silently false at request time. `claims`, `os` and
 * `attributes` are open maps. An attribute the request does not carry is an evaluation error,
 * which the evaluator treats as the riskier case.
 *
 * `check("viewer")` asks the relationship engine whether the subject has that relation on the
 * request's resource; `check("viewer", "folder:x")` on another object. Evaluation is synchronous,
 * so the relationship question goes to the scope of the evaluation in progress.
 */
import { Environment, EvaluationError } from "@marcbachmann/cel-js";
import { registerIpAddress } from "../conditions/ipaddress.js";

/** Answers `check(...)` for the rule being evaluated. */
export interface CheckScope {
  check(relation: string, object: string | undefined): boolean;
}

let scope: CheckScope | null = null;

/** Runs `fn` with `s` answering `check(...)` calls (evaluation is synchronous: no overlap). */
export function withCheckScope<T>(s: CheckScope, fn: () => T): T {
  const prev = scope;
  scope = s;
  try {
    return fn();
  } finally {
    scope = prev;
  }
}

function currentScope(): CheckScope {
  if (!scope) throw new EvaluationError("check() is only available while a decision is being made");
  return scope;
}

export const ACCESS_ENV = registerIpAddress(new Environment({ homogeneousAggregateLiterals: false }))
  .registerType({
    name: "Subject",
    schema: { id: "string", claims: "map", groups: "list<string>", roles: "list<string>", acr: "string", amr: "list<string>", auth_time: "double" },
  })
  .registerType({
    name: "Device",
    schema: {
      id: "string",
      registered: "bool",
      managed: "bool",
      compliant: "bool",
      os: "map",
      patch_level: "string",
      disk_encryption: "bool",
      screen_lock: "bool",
      firewall: "bool",
      posture_age: "double",
    },
  })
  .registerType({
    name: "Request",
    schema: {
      ip: "string",
      zones: "list<string>",
      country: "string",
      time: "string",
      hour: "double",
      weekday: "double",
      user_agent: "string",
      method: "string",
      host: "string",
      path: "string",
    },
  })
  .registerType({ name: "Resource", schema: { type: "string", id: "string", classification: "string", owner: "string", attributes: "map" } })
  .registerType({ name: "Risk", schema: { score: "double", level: "string", reasons: "list<string>" } })
  .registerVariable("subject", "Subject")
  .registerVariable("device", "Device")
  .registerVariable("request", "Request")
  .registerVariable("resource", "Resource")
  .registerVariable("risk", "Risk")
  .registerVariable("action", "string")
  .registerFunction("check(string): bool", (relation: string) => currentScope().check(relation, undefined))
  .registerFunction("check(string, string): bool", (relation: string, object: string) => currentScope().check(relation, object));
