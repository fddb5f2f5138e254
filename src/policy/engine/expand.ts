/**
 * Expand returns one level of the userset tree for object#relation, in OpenFGA's JSON shape:
 * leaves list direct users, name a computed userset, or list the usersets reached through a
 * tupleset; inner nodes are union, intersection and difference. Callers expand further by
 * calling Expand again on the usersets in the leaves.
 */
import type { BoundModel, BoundRelation, BoundRewrite } from "./bound-model.js";
import type { Bucket } from "./bucket.js";
import type { EntityTable } from "./entity-table.js";
import { decodeSubject, type TupleIndex } from "./tuple-index.js";

export interface UsersetTreeNode {
  name: string;
  leaf?:
    | { users: { users: string[] } }
    | { computed: { userset: string } }
    | { tupleToUserset: { tupleset: string; computed: Array<{ userset: string }> } };
  union?: { nodes: UsersetTreeNode[] };
  intersection?: { nodes: UsersetTreeNode[] };
  difference?: { base: UsersetTreeNode; subtract: UsersetTreeNode };
}

function strings(ent: EntityTable, ...buckets: Array<Bucket | undefined>): string[] {
  const out: string[] = [];
  for (const b of buckets) {
    if (b === undefined) continue;
    if (typeof b === "number") out.push(ent.string(decodeSubject(b)));
    else for (const id of b) out.push(ent.string(decodeSubject(id)));
  }
  return out;
}

export function expand(model: BoundModel, base: TupleIndex, overlay: TupleIndex | null, objText: string, obj: number, rel: BoundRelation): UsersetTreeNode {
  const ent = overlay ? overlay.entities : base.entities;
  const name = `${objText}#${rel.def.name}`;
  const node = (rw: BoundRewrite): UsersetTreeNode => {
    switch (rw.k) {
      case 0: {
        const o = overlay?.peek(rel.typeId, rel.relId);
        const users = obj < 0 ? [] : strings(ent, rel.slot.forward.get(obj), rel.slot.usersets.get(obj), o?.forward.get(obj), o?.usersets.get(obj));
        return { name, leaf: { users: { users: [...new Set(users)].sort() } } };
      }
      case 1:
        return { name, leaf: { computed: { userset: `${objText}#${rw.relation.def.name}` } } };
      case 2: {
        const o = overlay?.peek(rw.tupleset.typeId, rw.tupleset.relId);
        const parents = obj < 0 ? [] : strings(ent, rw.tupleset.slot.forward.get(obj), o?.forward.get(obj));
        const computedName = ent.relations.name(rw.computedRelId);
        const computed = [...new Set(parents)]
          .filter((p) => model.relation(ent.typeOf(ent.lookup(p)), rw.computedRelId) !== undefined)
          .sort()
          .map((p) => ({ userset: `${p}#${computedName}` }));
        return { name, leaf: { tupleToUserset: { tupleset: `${objText}#${rw.tupleset.def.name}`, computed } } };
      }
      case 3:
        return { name, union: { nodes: rw.children.map(node) } };
      case 4:
        return { name, intersection: { nodes: rw.children.map(node) } };
      case 5:
        return { name, difference: { base: node(rw.base), subtract: node(rw.subtract) } };
    }
  };
  return node(rel.rewrite);
}
