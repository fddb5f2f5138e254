/**
 * A TypeSystem bound to one TupleIndex: relation and type names resolved to the index's integer
 * ids, type restrictions turned into look-up tables, so evaluation never touches a string.
 */
import type { CompiledCondition } from "../conditions/condition.js";
import type { RelationDef, Rewrite, TypeSystem } from "../model/typesystem.js";
import type { Slot, TupleIndex } from "./tuple-index.js";

/** Which conditions a direct type restriction allows: `plain` means "without a condition". */
export interface Allow {
  plain: boolean;
  conditions: Set<string> | null;
}

export type BoundRewrite =
  | { k: 0 }
  | { k: 1; relation: BoundRelation }
  | { k: 2; tupleset: BoundRelation; computedRelId: number }
  | { k: 3; children: BoundRewrite[] }
  | { k: 4; children: BoundRewrite[] }
  | { k: 5; base: BoundRewrite; subtract: BoundRewrite };

export interface BoundRelation {
  readonly def: RelationDef;
  readonly typeId: number;
  readonly relId: number;
  rewrite: BoundRewrite;
  /** Keyed by allowKey*(): which subjects may appear directly. */
  readonly allow: Map<number, Allow>;
  /** The store index's tuples of this type#relation. */
  readonly slot: Slot;
  /** Sequence number within the model (small: used in per-request memo keys). */
  readonly seq: number;
}

export const plainKey = (typeId: number): number => typeId * 2;
export const wildcardKey = (typeId: number): number => typeId * 2 + 1;
export const usersetKey = (typeId: number, relId: number): number => -(1 + typeId * 65536 + relId);

export class BoundModel {
  /** typeId → relId → relation. */
  private readonly byType: Array<Array<BoundRelation | undefined> | undefined> = [];
  readonly conditions: ReadonlyMap<string, CompiledCondition>;
  /** Number of relations in the model: the stride of per-request memo keys. */
  relationCount = 0;

  constructor(
    readonly ts: TypeSystem,
    readonly index: TupleIndex,
  ) {
    this.conditions = ts.conditions;
    const types = index.entities.types;
    const relations = index.entities.relations;
    const all: BoundRelation[] = [];
    for (const t of ts.types.values()) {
      const typeId = types.id(t.name);
      const rels: Array<BoundRelation | undefined> = [];
      this.byType[typeId] = rels;
      for (const r of t.relations.values()) {
        const relId = relations.id(r.name);
        const allow = new Map<number, Allow>();
        for (const ref of r.directTypes) {
          const rt = types.id(ref.type);
          const key = ref.wildcard ? wildcardKey(rt) : ref.relation ? usersetKey(rt, relations.id(ref.relation)) : plainKey(rt);
          let a = allow.get(key);
          if (!a) {
            a = { plain: false, conditions: null };
            allow.set(key, a);
          }
          if (ref.condition) (a.conditions ??= new Set()).add(ref.condition);
          else a.plain = true;
        }
        const br: BoundRelation = { def: r, typeId, relId, rewrite: { k: 0 }, allow, slot: index.slot(typeId, relId), seq: all.length };
        rels[relId] = br;
        all.push(br);
      }
    }
    this.relationCount = all.length;
    // Rewrites refer to other relations, so bind them once every relation exists.
    for (const br of all) br.rewrite = this.bind(br.def.rewrite, br.typeId);
  }

  private bind(rw: Rewrite, typeId: number): BoundRewrite {
    switch (rw.kind) {
      case "this":
        return { k: 0 };
      case "computed": {
        const rel = this.relation(typeId, this.index.entities.relations.id(rw.relation));
        if (!rel) throw new Error(`computed relation ${rw.relation} missing after validation`);
        return { k: 1, relation: rel };
      }
      case "ttu": {
        const ts = this.relation(typeId, this.index.entities.relations.id(rw.tupleset));
        if (!ts) throw new Error(`tupleset relation ${rw.tupleset} missing after validation`);
        return { k: 2, tupleset: ts, computedRelId: this.index.entities.relations.id(rw.computed) };
      }
      case "union":
        return { k: 3, children: rw.children.map((c) => this.bind(c, typeId)) };
      case "intersection":
        return { k: 4, children: rw.children.map((c) => this.bind(c, typeId)) };
      case "difference":
        return { k: 5, base: this.bind(rw.base, typeId), subtract: this.bind(rw.subtract, typeId) };
    }
  }

  relation(typeId: number, relId: number): BoundRelation | undefined {
    return this.byType[typeId]?.[relId];
  }

  hasTypeId(typeId: number): boolean {
    return this.byType[typeId] !== undefined;
  }

  relationByName(type: string, relation: string): BoundRelation | undefined {
    const t = this.index.entities.types.lookup(type);
    const r = this.index.entities.relations.lookup(relation);
    return t < 0 || r < 0 ? undefined : this.relation(t, r);
  }

  /** Relation id by name (interning it: names come from the validated model). */
  relId(name: string): number {
    return this.index.entities.relations.id(name);
  }

  /** Every bound relation of a type. */
  relationsOf(typeId: number): BoundRelation[] {
    return (this.byType[typeId] ?? []).filter((r): r is BoundRelation => r !== undefined);
  }

  allTypes(): number[] {
    const out: number[] = [];
    this.byType.forEach((v, i) => {
      if (v) out.push(i);
    });
    return out;
  }
}
