/**
 * In-memory indexes over a store's tuples, kept current by every write:
 * - forward: relation → object → direct subjects (objects and wildcards) and, separately, usersets;
 * - reverse: relation → subject → objects, which ListObjects walks instead of scanning objects;
 * - conditions: the condition attached to a tuple, only for tuples that have one.
 * Everything is keyed by interned integer ids (see EntityTable).
 */
import type { TupleCondition, TupleKey } from "../tuples/tuple.js";
import { type Bucket, bucketAdd, bucketHas, bucketRemove } from "./bucket.js";
import { EntityTable, NameTable } from "./entity-table.js";

type ByRelation = Array<Map<number, Bucket> | undefined>;

function mapFor(arr: ByRelation, rel: number): Map<number, Bucket> {
  let m = arr[rel];
  if (!m) {
    m = new Map();
    arr[rel] = m;
  }
  return m;
}

export class TupleIndex {
  readonly entities: EntityTable;
  /** relation → object → subject ids that are objects or wildcards. */
  private readonly forward: ByRelation = [];
  /** relation → object → userset ids. */
  private readonly forwardUsersets: ByRelation = [];
  /** relation → subject (object, wildcard or userset id) → object ids. */
  private readonly reverse: ByRelation = [];
  /** relation → object → subject → condition; only for conditional tuples. */
  private readonly conditions: Array<Map<number, Map<number, TupleCondition>> | undefined> = [];
  private count = 0;

  constructor(parent: TupleIndex | null = null) {
    if (parent) {
      this.entities = new EntityTable(parent.entities.types, parent.entities.relations, parent.entities);
    } else {
      this.entities = new EntityTable(new NameTable(), new NameTable());
    }
  }

  get size(): number {
    return this.count;
  }

  /** Adds a tuple that has already been validated. Returns false when it was already present. */
  add(t: TupleKey): boolean {
    const rel = this.entities.relations.id(t.relation);
    const obj = this.entities.entity(t.object);
    const isUserset = t.user.includes("#");
    const subj = this.entities.user(t.user);
    const fwd = isUserset ? this.forwardUsersets : this.forward;
    const m = mapFor(fwd, rel);
    const before = m.get(obj);
    if (t.condition) this.setCondition(rel, obj, subj, t.condition);
    else this.conditions[rel]?.get(obj)?.delete(subj);
    if (bucketHas(before, subj)) return false;
    const after = bucketAdd(before, subj);
    if (after !== before) m.set(obj, after);
    const r = mapFor(this.reverse, rel);
    const rb = r.get(subj);
    const ra = bucketAdd(rb, obj);
    if (ra !== rb) r.set(subj, ra);
    this.count++;
    return true;
  }

  /** Removes a tuple; returns false when it was absent. */
  remove(t: { object: string; relation: string; user: string }): boolean {
    const rel = this.entities.relations.lookup(t.relation);
    const obj = this.entities.lookup(t.object);
    const subj = this.entities.lookup(t.user);
    if (rel < 0 || obj < 0 || subj < 0) return false;
    const fwd = t.user.includes("#") ? this.forwardUsersets : this.forward;
    const m = fwd[rel];
    const before = m?.get(obj);
    if (!m || before === undefined) return false;
    if (!bucketHas(before, subj)) return false;
    const after = bucketRemove(before, subj);
    if (after === undefined) m.delete(obj);
    else if (after !== before) m.set(obj, after);
    const r = this.reverse[rel]!;
    const ra = bucketRemove(r.get(subj), obj);
    if (ra === undefined) r.delete(subj);
    else r.set(subj, ra);
    const cm = this.conditions[rel]?.get(obj);
    if (cm) {
      cm.delete(subj);
      if (cm.size === 0) this.conditions[rel]!.delete(obj);
    }
    this.count--;
    return true;
  }

  private setCondition(rel: number, obj: number, subj: number, c: TupleCondition): void {
    let byObj = this.conditions[rel];
    if (!byObj) {
      byObj = new Map();
      this.conditions[rel] = byObj;
    }
    let bySubj = byObj.get(obj);
    if (!bySubj) {
      bySubj = new Map();
      byObj.set(obj, bySubj);
    }
    bySubj.set(subj, c);
  }

  /** The tuple's condition (null when it has none), or undefined when the tuple is absent. */
  get(t: { object: string; relation: string; user: string }): TupleCondition | null | undefined {
    const rel = this.entities.relations.lookup(t.relation);
    const obj = this.entities.lookup(t.object);
    const subj = this.entities.lookup(t.user);
    if (rel < 0 || obj < 0 || subj < 0) return undefined;
    const b = t.user.includes("#") ? this.forwardUsersets[rel]?.get(obj) : this.forward[rel]?.get(obj);
    if (!bucketHas(b, subj)) return undefined;
    return this.condition(rel, obj, subj) ?? null;
  }

  /** Direct object/wildcard subjects of object#relation. */
  subjects(rel: number, obj: number): Bucket | undefined {
    return this.forward[rel]?.get(obj);
  }

  /** Userset subjects of object#relation. */
  usersets(rel: number, obj: number): Bucket | undefined {
    return this.forwardUsersets[rel]?.get(obj);
  }

  /** Objects that have `subject` directly in `relation`. */
  objects(rel: number, subject: number): Bucket | undefined {
    return this.reverse[rel]?.get(subject);
  }

  condition(rel: number, obj: number, subj: number): TupleCondition | undefined {
    const byObj = this.conditions[rel];
    if (byObj === undefined) return undefined;
    return byObj.get(obj)?.get(subj);
  }

  /** Iterates every object that has any tuple for `rel` (used by Expand-style scans). */
  objectsWithRelation(rel: number): IterableIterator<number> | undefined {
    return this.forward[rel]?.keys();
  }
}
