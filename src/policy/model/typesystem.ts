/**
 * A validated model in the shape the engine needs: each type's relations with their rewrite
 * trees and directly related user types, and each condition compiled once.
 */
import { TenetError, type ErrorDetail } from "../../errors.js";
import { compileCondition, type CompiledCondition } from "../conditions/condition.js";
import { parseModel } from "./parse.js";
import type { AuthorizationModel, RelationReference, Userset } from "./types.js";

export type Rewrite =
  | { kind: "this" }
  | { kind: "computed"; relation: string }
  | { kind: "ttu"; tupleset: string; computed: string }
  | { kind: "union"; children: Rewrite[] }
  | { kind: "intersection"; children: Rewrite[] }
  | { kind: "difference"; base: Rewrite; subtract: Rewrite };

export interface RelationDef {
  readonly type: string;
  readonly name: string;
  readonly rewrite: Rewrite;
  /** Directly related user types (`[user, user:*, group#member with cond]`); empty when not assignable. */
  readonly directTypes: readonly RelationReference[];
}

export interface TypeDef {
  readonly name: string;
  readonly relations: ReadonlyMap<string, RelationDef>;
}

function compileRewrite(u: Userset, where: string): Rewrite {
  if (u.this) return { kind: "this" };
  if (u.computedUserset) return { kind: "computed", relation: requireName(u.computedUserset.relation, where) };
  if (u.tupleToUserset) {
    return {
      kind: "ttu",
      tupleset: requireName(u.tupleToUserset.tupleset.relation, where),
      computed: requireName(u.tupleToUserset.computedUserset.relation, where),
    };
  }
  if (u.union) return { kind: "union", children: u.union.child.map((c) => compileRewrite(c, where)) };
  if (u.intersection) return { kind: "intersection", children: u.intersection.child.map((c) => compileRewrite(c, where)) };
  if (u.difference) {
    return { kind: "difference", base: compileRewrite(u.difference.base, where), subtract: compileRewrite(u.difference.subtract, where) };
  }
  throw new TenetError("invalid_model", `${where}: empty or unknown rewrite`);
}

function requireName(n: string | undefined, where: string): string {
  if (!n) throw new TenetError("invalid_model", `${where}: rewrite is missing a relation name`);
  return n;
}

export class TypeSystem {
  readonly types: ReadonlyMap<string, TypeDef>;
  readonly conditions: ReadonlyMap<string, CompiledCondition>;

  private constructor(
    readonly model: AuthorizationModel,
    types: Map<string, TypeDef>,
    conditions: Map<string, CompiledCondition>,
  ) {
    this.types = types;
    this.conditions = conditions;
  }

  /** Parses (DSL, JSON text or object), validates completely and compiles a model. */
  static from(input: unknown): TypeSystem {
    return TypeSystem.compile(parseModel(input));
  }

  /** Compiles an already-parsed model (it is validated again: models come from storage too). */
  static compile(model: AuthorizationModel): TypeSystem {
    const problems: ErrorDetail[] = [];
    const conditions = new Map<string, CompiledCondition>();
    for (const [name, def] of Object.entries(model.conditions ?? {})) {
      try {
        if (def.name && def.name !== name) throw new TenetError("invalid_condition", `condition key '${name}' does not match its name '${def.name}'`);
        conditions.set(name, compileCondition({ ...def, name }));
      } catch (err) {
        problems.push({ where: `condition ${name}`, message: err instanceof Error ? err.message : String(err) });
      }
    }
    const types = new Map<string, TypeDef>();
    for (const td of model.type_definitions) {
      const relations = new Map<string, RelationDef>();
      for (const [name, rw] of Object.entries(td.relations ?? {})) {
        const where = `${td.type}#${name}`;
        const directTypes = td.metadata?.relations?.[name]?.directly_related_user_types ?? [];
        for (const ref of directTypes) {
          if (ref.condition && !conditions.has(ref.condition) && !model.conditions?.[ref.condition]) {
            problems.push({ where, message: `condition '${ref.condition}' is not defined` });
          }
        }
        try {
          relations.set(name, { type: td.type, name, rewrite: compileRewrite(rw, where), directTypes });
        } catch (err) {
          problems.push({ where, message: (err as Error).message });
        }
      }
      types.set(td.type, { name: td.type, relations });
    }
    // Models also come back from storage: check every reference again rather than trust it.
    for (const t of types.values()) {
      for (const r of t.relations.values()) {
        for (const msg of danglingReferences(r.rewrite, t, types)) problems.push({ where: `${t.name}#${r.name}`, message: msg });
        for (const ref of r.directTypes) {
          if (!types.has(ref.type)) problems.push({ where: `${t.name}#${r.name}`, message: `type '${ref.type}' is not defined` });
          else if (ref.relation && !types.get(ref.type)!.relations.has(ref.relation)) {
            problems.push({ where: `${t.name}#${r.name}`, message: `relation '${ref.type}#${ref.relation}' is not defined` });
          }
        }
      }
    }
    if (problems.length) {
      const code = problems.some((p) => p.where?.startsWith("condition")) ? "invalid_condition" : "invalid_model";
      throw new TenetError(code, `invalid model: ${problems.map((p) => `${p.where}: ${p.message}`).join("; ")}`, { details: problems });
    }
    return new TypeSystem(model, types, conditions);
  }

  relation(type: string, relation: string): RelationDef | undefined {
    return this.types.get(type)?.relations.get(relation);
  }

  hasType(type: string): boolean {
    return this.types.has(type);
  }
}

function danglingReferences(rw: Rewrite, t: TypeDef, types: Map<string, TypeDef>): string[] {
  switch (rw.kind) {
    case "this":
      return [];
    case "computed":
      return t.relations.has(rw.relation) ? [] : [`relation '${t.name}#${rw.relation}' is not defined`];
    case "ttu":
      return t.relations.has(rw.tupleset) ? [] : [`tupleset relation '${t.name}#${rw.tupleset}' is not defined`];
    case "union":
    case "intersection":
      return rw.children.flatMap((c) => danglingReferences(c, t, types));
    case "difference":
      return [...danglingReferences(rw.base, t, types), ...danglingReferences(rw.subtract, t, types)];
  }
}
