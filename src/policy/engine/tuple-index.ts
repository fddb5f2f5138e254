/**
 * In-memory indexes over a store's tuples, kept current by every write. Tuples are grouped in
 * slots, one per object type and relation (`doc#viewer`), each holding:
 * - forward: object → direct subjects (objects and wildcards) and, separately, usersets;
 * - reverse: subject → objects, which ListObjects walks instead of scanning objects;
 * - conditions: the condition of each conditional tuple.
 * A conditional tuple's subject is stored in the forward bucket as `-id - 1`, so a plain match
 * needs one map look-up and only conditional matches pay for a second one.
 */
import type { TupleCondition, TupleKey } from "../tuples/tuple.js";
import { type Bucket, bucketAdd, bucketHas, bucketRemove } from "./bucket.js";
import { EntityTable, MAX_RELATIONS, NameTable } from "./entity-table.js";

export type RevBucket = number | number[];

/** Encodes a subject id for a forward bucket. */
export const encodeSubject = (id: number, conditional: boolean): number => (conditional ? -id - 1 : id);
/** Decodes an entry of a forward bucket. */
export const decodeSubject = (e: number): number => (e >= 0 ? e : -e - 1);

export class Slot {
  /** object → subjects that are objects or wildcards (encoded). */
  readonly forward = new Map<number, Bucket>();
  /** object → userset subjects (encoded). */
  readonly usersets = new Map<number, Bucket>();
  /** subject → objects. */
  readonly reverse = new Map<number, RevBucket>();
  /** object → subject → condition, for conditional tuples only. */
  conditions: Map<number, Map<number, TupleCondition>> | null = null;

  constructor(
    readonly typeId: number,
    readonly relId: number,
  ) {}

  condition(obj: number, subj: number): TupleCondition | undefined {
    return this.conditions?.get(obj)?.get(subj);
  }
}

function revAdd(b: RevBucket | undefined, id: number): RevBucket {
  if (b === undefined) return id;
  if (typeof b === "number") return [b, id];
  b.push(id);
  return b;
}

function revRemove(b: RevBucket | undefined, id: number): RevBucket | undefined {
  if (b === undefined || typeof b === "number") return b === id ? undefined : b;
  const i = b.indexOf(id);
  if (i < 0) return b;
  b[i] = b[b.length - 1]!;
  b.pop();
  return b.length === 1 ? b[0]! : b;
}

export class TupleIndex {
  readonly entities: EntityTable;
  private readonly slots = new Map<number, Slot>();
  private count = 0;

  constructor(parent: TupleIndex | null = null) {
    this.entities = parent
      ? new EntityTable(parent.entities.types, parent.entities.relations, parent.entities)
      : new EntityTable(new NameTable(), new NameTable(MAX_RELATIONS));
  }

  get size(): number {
    return this.count;
  }

  /** The slot of `type#relation`, created on first use. */
  slot(typeId: number, relId: number): Slot {
    const key = typeId * MAX_RELATIONS + relId;
    let s = this.slots.get(key);
    if (!s) {
      s = new Slot(typeId, relId);
      this.slots.set(key, s);
    }
    return s;
  }

  /** The slot of `type#relation` if any tuple ever used it. */
  peek(typeId: number, relId: number): Slot | undefined {
    return this.slots.get(typeId * MAX_RELATIONS + relId);
  }

  allSlots(): IterableIterator<Slot> {
    return this.slots.values();
  }

  /** Adds (or updates the condition of) a validated tuple. Returns false when it was present. */
  add(t: TupleKey): boolean {
    const ent = this.entities;
    const obj = ent.entity(t.object);
    const slot = this.slot(ent.typeOf(obj), ent.relations.id(t.relation));
    const isUserset = t.user.includes("#");
    const subj = ent.user(t.user);
    const map = isUserset ? slot.usersets : slot.forward;
    const before = map.get(obj);
    const conditional = t.condition !== undefined && t.condition !== null;
    const wasPlain = bucketHas(before, subj);
    const wasConditional = !wasPlain && bucketHas(before, -subj - 1);
    if (conditional) this.setCondition(slot, obj, subj, t.condition!);
    else if (wasConditional) this.clearCondition(slot, obj, subj);
    if (wasPlain || wasConditional) {
      if (wasPlain !== !conditional) {
        // Same tuple, condition added or removed: re-encode it in place.
        const without = bucketRemove(before, encodeSubject(subj, wasConditional));
        map.set(obj, bucketAdd(without, encodeSubject(subj, conditional)));
      }
      return false;
    }
    const after = bucketAdd(before, encodeSubject(subj, conditional));
    if (after !== before) map.set(obj, after);
    const rb = slot.reverse.get(subj);
    const ra = revAdd(rb, obj);
    if (ra !== rb) slot.reverse.set(subj, ra);
    this.count++;
    return true;
  }

  /** Removes a tuple; returns false when it was absent. */
  remove(t: { object: string; relation: string; user: string }): boolean {
    const ent = this.entities;
    const obj = ent.lookup(t.object);
    const rel = ent.relations.lookup(t.relation);
    const subj = ent.lookup(t.user);
    if (obj < 0 || rel < 0 || subj < 0) return false;
    const slot = this.peek(ent.typeOf(obj), rel);
    if (!slot) return false;
    const map = t.user.includes("#") ? slot.usersets : slot.forward;
    const before = map.get(obj);
    const enc = bucketHas(before, subj) ? subj : bucketHas(before, -subj - 1) ? -subj - 1 : null;
    if (enc === null) return false;
    const after = bucketRemove(before, enc);
    if (after === undefined) map.delete(obj);
    else if (after !== before) map.set(obj, after);
    const ra = revRemove(slot.reverse.get(subj), obj);
    if (ra === undefined) slot.reverse.delete(subj);
    else slot.reverse.set(subj, ra);
    if (enc < 0) this.clearCondition(slot, obj, subj);
    this.count--;
    return true;
  }

  /** The tuple's condition (null when it has none), or undefined when the tuple is absent. */
  get(t: { object: string; relation: string; user: string }): TupleCondition | null | undefined {
    const ent = this.entities;
    const obj = ent.lookup(t.object);
    const rel = ent.relations.lookup(t.relation);
    const subj = ent.lookup(t.user);
    if (obj < 0 || rel < 0 || subj < 0) return undefined;
    const slot = this.peek(ent.typeOf(obj), rel);
    const b = (t.user.includes("#") ? slot?.usersets : slot?.forward)?.get(obj);
    if (bucketHas(b, subj)) return null;
    if (bucketHas(b, -subj - 1)) return slot!.condition(obj, subj) ?? null;
    return undefined;
  }

  private setCondition(slot: Slot, obj: number, subj: number, c: TupleCondition): void {
    const byObj = (slot.conditions ??= new Map());
    let bySubj = byObj.get(obj);
    if (!bySubj) {
      bySubj = new Map();
      byObj.set(obj, bySubj);
    }
    bySubj.set(subj, c);
  }

  private clearCondition(slot: Slot, obj: number, subj: number): void {
    const bySubj = slot.conditions?.get(obj);
    if (!bySubj) return;
    bySubj.delete(subj);
    if (bySubj.size === 0) slot.conditions!.delete(obj);
  }
}
