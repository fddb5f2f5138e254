/**
 * Apply-time check of the relationship questions in rules: `check("viewr")` on a policy that
 * targets documents is a typo that would deny silently at request time; with the store's model
 * at hand it is refused when the policy is applied, with its file and line.
 *
 * Only literal arguments can be checked (all the ones seen in practice). A relation is checked
 * against every concrete resource type the policy targets (`*` and route targets name no type);
 * `check(relation, "type:id")` against the object's type.
 */
import type { CompiledRule } from "./compile.js";

/** What the check needs of an authorization model (TypeSystem has it). */
export interface RelationModel {
  hasType(type: string): boolean;
  relation(type: string, relation: string): unknown;
}

interface AstNode {
  op: string;
  args: unknown;
}

/** The literal `check(...)` calls of a rule's condition. */
export function relationQuestions(rule: CompiledRule): Array<{ relation: string; object?: string }> {
  const out: Array<{ relation: string; object?: string }> = [];
  const walk = (n: unknown): void => {
    if (Array.isArray(n)) {
      for (const x of n) walk(x);
      return;
    }
    if (typeof n !== "object" || n === null || typeof (n as AstNode).op !== "string") return;
    const node = n as AstNode;
    if (node.op === "call" && Array.isArray(node.args) && node.args[0] === "check" && Array.isArray(node.args[1])) {
      const [rel, obj] = node.args[1] as AstNode[];
      if (rel?.op === "value" && typeof rel.args === "string") {
        if (obj === undefined) out.push({ relation: rel.args });
        else if (obj.op === "value" && typeof obj.args === "string") out.push({ relation: rel.args, object: obj.args });
      }
    }
    walk(node.args);
  };
  walk((rule.when as unknown as { ast?: unknown } | undefined)?.ast);
  return out;
}

/** The problems (reason texts) of one rule against the model, for the policy's target types. */
export function relationProblems(rule: CompiledRule, targetTypes: readonly string[], model: RelationModel): string[] {
  const problems: string[] = [];
  for (const q of relationQuestions(rule)) {
    if (q.object !== undefined) {
      const colon = q.object.indexOf(":");
      const type = colon > 0 ? q.object.slice(0, colon) : "";
      if (!type || colon === q.object.length - 1) problems.push(`check("${q.relation}", "${q.object}"): the object must be 'type:id'`);
      else if (!model.hasType(type)) problems.push(`check("${q.relation}", "${q.object}"): type '${type}' is not defined in the store's model`);
      else if (!model.relation(type, q.relation)) problems.push(`check("${q.relation}", "${q.object}"): relation '${type}#${q.relation}' is not defined in the store's model`);
      continue;
    }
    for (const type of targetTypes) {
      if (type === "*") continue;
      if (!model.hasType(type)) problems.push(`check("${q.relation}"): the policy targets type '${type}', which is not defined in the store's model`);
      else if (!model.relation(type, q.relation)) problems.push(`check("${q.relation}"): relation '${type}#${q.relation}' is not defined in the store's model`);
    }
  }
  return problems;
}
