/**
 * The CEL environment of access-policy rules. Variables are typed with the attributes Tenet
 * knows (types.ts), so a rule that names an unknown attribute (`device.compliance`) is refused
 * when the policy is applied, not silently false at request time. `claims`, `os` and
 * `attributes` are open maps. Values are the classes of cel-views.ts. An attribute the request does not carry is an evaluation error,
 * which the evaluator treats as the riskier case.
 *
 * `check("viewer")` asks the relationship engine whether the subject has that relation on the
 * request's resource; `check("viewer", "folder:x")` on another object. Evaluation is synchronous,
 * so the relationship question goes to the scope of the evaluation in progress.
 */
import { Environment, EvaluationError } from "@marcbachmann/cel-js";
import { registerIpAddress } from "../conditions/ipaddress.js";
import { DEVICE_FIELDS, DeviceView, REQUEST_FIELDS, RequestView, RESOURCE_FIELDS, ResourceView, RISK_FIELDS, RiskView, SUBJECT_FIELDS, SubjectView } from "./cel-views.js";

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
  .registerType({ name: "Subject", ctor: SubjectView, fields: SUBJECT_FIELDS })
  .registerType({ name: "Device", ctor: DeviceView, fields: DEVICE_FIELDS })
  .registerType({ name: "Request", ctor: RequestView, fields: REQUEST_FIELDS })
  .registerType({ name: "Resource", ctor: ResourceView, fields: RESOURCE_FIELDS })
  .registerType({ name: "Risk", ctor: RiskView, fields: RISK_FIELDS })
  .registerVariable("subject", "Subject")
  .registerVariable("device", "Device")
  .registerVariable("request", "Request")
  .registerVariable("resource", "Resource")
  .registerVariable("risk", "Risk")
  .registerVariable("action", "string")
  .registerFunction("check(string): bool", (relation: string) => currentScope().check(relation, undefined))
  .registerFunction("check(string, string): bool", (relation: string, object: string) => currentScope().check(relation, object));
