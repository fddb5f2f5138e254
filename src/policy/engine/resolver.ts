/**
 * Synchronous check evaluation over the in-memory indexes.
 *
 * Results are small integers so that errors and cycles travel through union, intersection and
 * exclusion the way OpenFGA combines them: a union is true if any branch is true, an intersection
 * false if any branch is false, an exclusion false if its base is false or its subtraction true;
 * otherwise an error (failed condition, depth exceeded) or a cycle wins over plain false. A cycle
 * that reaches the top is "not allowed". Sub-results are memoised per request by object#relation
 * (the subject is fixed for a resolver), and cycles are detected with the nodes on the current
 * path. The hot path allocates nothing: the path is two small arrays scanned linearly (it is at
 * most 25 deep) and the memo map is only created once a request fans out.
 */
import { TenetError } from "../../errors.js";
import type { TupleCondition } from "../tuples/tuple.js";
import type { Bucket } from "./bucket.js";
import { type BoundModel, type BoundRelation, type BoundRewrite, plainKey, usersetKey, wildcardKey } from "./bound-model.js";
import { type EntityTable, isUsersetInfo, isWildcardInfo, typeOfInfo } from "./entity-table.js";
import type { Slot, TupleIndex } from "./tuple-index.js";

export const FALSE = 0;
export const TRUE = 1;
export const CYCLE = 2;
export const ERROR = 3;
export type Outcome = 0 | 1 | 2 | 3;

/** OpenFGA's default resolution depth limit (`--max-resolution-depth`). */
export const MAX_DEPTH = 25;
/** Dispatches before the memo map is worth creating. */
const MEMO_AFTER = 8;

export const SUBJECT_OBJECT = 0;
export const SUBJECT_WILDCARD = 1;
export const SUBJECT_USERSET = 2;

export interface Subject {
  /** Entity or userset id, or -1 when the index has never seen it. */
  id: number;
  kind: 0 | 1 | 2;
  typeId: number;
  /** For objects: the id of `type:*`, or -1. */
  wildcardId: number;
  /** For usersets: the object's entity id and the relation id. */
  usObject: number;
  usRelation: number;
}

/** Why a check was allowed: the rewrite taken at each step and the tuple that granted it. */
export interface Why {
  object: string;
  relation: string;
  rule: "direct" | "wildcard" | "userset" | "computed_userset" | "tuple_to_userset" | "intersection" | "exclusion" | "self";
  tuple?: string;
  condition?: string;
  because?: Why[];
}

function merge(a: Outcome, b: Outcome): Outcome {
  return a > b ? a : b;
}

export class Resolver {
  readonly ent: EntityTable;
  error: TenetError | null = null;
  why: Why | null = null;
  private memo: Map<number, Outcome> | null = null;
  private whyMemo: Map<number, Why | null> | null = null;
  /** The object#relation nodes on the current path (created on first dispatch). */
  private pathObj: number[] | null = null;
  private pathRel: BoundRelation[] | null = null;
  private subject!: Subject;
  /** Number of dispatches, to bound the work of one request (see maxDispatches). */
  dispatches = 0;

  constructor(
    readonly model: BoundModel,
    readonly base: TupleIndex,
    readonly overlay: TupleIndex | null,
    readonly context: Record<string, unknown> | undefined,
    readonly explain = false,
    readonly maxDispatches = 200_000,
  ) {
    this.ent = overlay ? overlay.entities : base.entities;
  }

  /** Sets the subject of the next checks (the memo is kept while the subject stays). */
  setSubject(subject: Subject): void {
    if (this.subject !== subject) {
      this.subject = subject;
      this.memo = null;
      this.whyMemo = null;
    }
  }

  /** Builds a Subject from an interned user id (and its packed info, when already read). */
  subjectOf(id: number, info = this.ent.infoOf(id)): Subject {
    const ent = this.ent;
    const typeId = typeOfInfo(info);
    if (isUsersetInfo(info)) return { id, kind: SUBJECT_USERSET, typeId, wildcardId: -1, usObject: ent.usersetObjectOf(id), usRelation: ent.usersetRelationOf(id) };
    if (isWildcardInfo(info)) return { id, kind: SUBJECT_WILDCARD, typeId, wildcardId: id, usObject: -1, usRelation: -1 };
    return { id, kind: SUBJECT_OBJECT, typeId, wildcardId: ent.wildcardOf(typeId), usObject: -1, usRelation: -1 };
  }

  /** Builds a Subject for a validated user string. */
  subjectFor(user: string): Subject {
    const ent = this.ent;
    const id = ent.lookup(user);
    if (id >= 0) return this.subjectOf(id);
    const hash = user.indexOf("#");
    const colon = user.indexOf(":");
    const typeId = ent.types.lookup(user.slice(0, colon));
    if (hash >= 0) {
      return { id, kind: SUBJECT_USERSET, typeId, wildcardId: -1, usObject: ent.lookup(user.slice(0, hash)), usRelation: ent.relations.lookup(user.slice(hash + 1)) };
    }
    if (user.length === colon + 2 && user.charCodeAt(colon + 1) === 42) {
      return { id, kind: SUBJECT_WILDCARD, typeId, wildcardId: id, usObject: -1, usRelation: -1 };
    }
    return { id, kind: SUBJECT_OBJECT, typeId, wildcardId: typeId >= 0 ? ent.wildcardOf(typeId) : -1, usObject: -1, usRelation: -1 };
  }

  /** Top-level check: does the subject have `rel` on `obj`? */
  check(obj: number, rel: BoundRelation): Outcome {
    const s = this.subject;
    if (s.kind === SUBJECT_USERSET && s.usObject === obj && s.usRelation === rel.relId && obj >= 0) {
      // (The engine interns unknown objects per request, so ids are never -1 here.)
      if (this.explain) this.why = { object: this.ent.string(obj), relation: rel.def.name, rule: "self" };
      return TRUE;
    }
    // The top node is not put on the path: a cycle back to it is caught one step later.
    return this.rewrite(rel.rewrite, obj, rel, 0);
  }

  fail(err: TenetError): Outcome {
    if (this.error === null) this.error = err;
    return ERROR;
  }

  private dispatch(obj: number, rel: BoundRelation, depth: number): Outcome {
    if (depth > MAX_DEPTH) {
      return this.fail(new TenetError("resolution_too_complex", `resolution too complex: exceeded the depth limit of ${MAX_DEPTH}`));
    }
    if (++this.dispatches > this.maxDispatches) {
      return this.fail(new TenetError("resolution_too_complex", `resolution too complex: more than ${this.maxDispatches} sub-problems`));
    }
    const s = this.subject;
    if (s.kind === SUBJECT_USERSET && s.usObject === obj && s.usRelation === rel.relId && obj >= 0) {
      if (this.explain) this.why = { object: this.ent.string(obj), relation: rel.def.name, rule: "self" };
      return TRUE;
    }
    let memo = this.memo;
    let key = 0;
    if (memo === null && this.dispatches > MEMO_AFTER) memo = this.memo = new Map();
    if (memo !== null) {
      key = obj * this.model.relationCount + rel.seq;
      const known = memo.get(key);
      if (known !== undefined) {
        if (this.explain) this.why = this.whyMemo?.get(key) ?? null;
        return known;
      }
    }
    const pathObj = (this.pathObj ??= []);
    const pathRel = (this.pathRel ??= []);
    for (let i = pathObj.length - 1; i >= 0; i--) {
      if (pathObj[i] === obj && pathRel[i] === rel) return CYCLE;
    }
    pathObj.push(obj);
    pathRel.push(rel);
    const r = this.rewrite(rel.rewrite, obj, rel, depth);
    pathObj.pop();
    pathRel.pop();
    if (memo !== null && (r === TRUE || r === FALSE)) {
      memo.set(key, r);
      if (this.explain) (this.whyMemo ??= new Map()).set(key, r === TRUE ? this.why : null);
    }
    return r;
  }

  private rewrite(rw: BoundRewrite, obj: number, rel: BoundRelation, depth: number): Outcome {
    switch (rw.k) {
      case 0:
        return this.direct(obj, rel, depth);
      case 1: {
        const r = this.dispatch(obj, rw.relation, depth + 1);
        if (r === TRUE && this.explain) this.why = this.node(obj, rel, "computed_userset", undefined, [this.why]);
        return r;
      }
      case 2:
        return this.tupleToUserset(rw.tupleset, rw.computedRelId, obj, rel, depth);
      case 3: {
        let res: Outcome = FALSE;
        for (const c of rw.children) {
          const r = this.rewrite(c, obj, rel, depth);
          if (r === TRUE) return TRUE;
          res = merge(res, r);
        }
        return res;
      }
      case 4: {
        let res: Outcome = TRUE;
        const whys: Why[] = [];
        for (const c of rw.children) {
          const r = this.rewrite(c, obj, rel, depth);
          if (r === FALSE) return FALSE;
          if (r !== TRUE) res = res === TRUE ? r : merge(res, r);
          else if (this.explain && this.why) whys.push(this.why);
        }
        if (res === TRUE && this.explain) this.why = this.node(obj, rel, "intersection", undefined, whys);
        return res;
      }
      case 5: {
        const b = this.rewrite(rw.base, obj, rel, depth);
        if (b === FALSE) return FALSE;
        const baseWhy = this.why;
        const s = this.rewrite(rw.subtract, obj, rel, depth);
        if (s === TRUE) return FALSE;
        if (s !== FALSE) return s === ERROR || b === ERROR ? ERROR : s;
        if (b === TRUE && this.explain) this.why = this.node(obj, rel, "exclusion", undefined, baseWhy ? [baseWhy] : []);
        return b;
      }
    }
  }

  /**
   * Looks up a direct tuple in the store's slot and the request's: undefined when absent, null
   * when present without a condition, else its condition.
   */
  private hit(rel: BoundRelation, obj: number, subj: number, userset: boolean): TupleCondition | null | undefined {
    const r = hitIn(rel.slot, obj, subj, userset);
    if (r !== undefined || this.overlay === null) return r;
    const o = this.overlay.peek(rel.typeId, rel.relId);
    return o === undefined ? undefined : hitIn(o, obj, subj, userset);
  }

  /** Is a found tuple usable under the current type restrictions, and does its condition hold? */
  private admit(rel: BoundRelation, allowKey: number, cond: TupleCondition | null): Outcome {
    const a = rel.allow.get(allowKey);
    if (a === undefined) return FALSE;
    if (cond === null) return a.plain ? TRUE : FALSE;
    if (a.conditions === null || !a.conditions.has(cond.name)) return FALSE;
    const c = this.model.conditions.get(cond.name);
    if (c === undefined) return FALSE;
    try {
      return c.evaluate(cond.context, this.context) ? TRUE : FALSE;
    } catch (err) {
      if (err instanceof TenetError) return this.fail(err);
      throw err;
    }
  }

  private direct(obj: number, rel: BoundRelation, depth: number): Outcome {
    const s = this.subject;
    let res: Outcome = FALSE;
    if (s.kind === SUBJECT_USERSET) {
      if (s.id >= 0) {
        const h = this.hit(rel, obj, s.id, true);
        if (h !== undefined) {
          const r = this.admit(rel, usersetKey(s.typeId, s.usRelation), h);
          if (r === TRUE) return this.granted(obj, rel, "direct", s.id, h);
          res = r;
        }
      }
    } else {
      if (s.id >= 0) {
        const h = this.hit(rel, obj, s.id, false);
        if (h !== undefined) {
          const r = this.admit(rel, s.kind === SUBJECT_WILDCARD ? wildcardKey(s.typeId) : plainKey(s.typeId), h);
          if (r === TRUE) return this.granted(obj, rel, s.kind === SUBJECT_WILDCARD ? "wildcard" : "direct", s.id, h);
          res = merge(res, r);
        }
      }
      if (s.kind === SUBJECT_OBJECT && s.wildcardId >= 0) {
        const h = this.hit(rel, obj, s.wildcardId, false);
        if (h !== undefined) {
          const r = this.admit(rel, wildcardKey(s.typeId), h);
          if (r === TRUE) return this.granted(obj, rel, "wildcard", s.wildcardId, h);
          res = merge(res, r);
        }
      }
    }
    const slot = rel.slot;
    if (slot.usersets.size !== 0) {
      const ub = slot.usersets.get(obj);
      if (ub !== undefined) {
        const r = this.throughUsersets(ub, slot, obj, rel, depth);
        if (r === TRUE) return TRUE;
        res = merge(res, r);
      }
    }
    if (this.overlay !== null) {
      const o = this.overlay.peek(rel.typeId, rel.relId);
      const ob = o?.usersets.get(obj);
      if (ob !== undefined) {
        const r = this.throughUsersets(ob, o!, obj, rel, depth);
        if (r === TRUE) return TRUE;
        res = merge(res, r);
      }
    }
    return res;
  }

  private throughUsersets(b: Bucket, slot: Slot, obj: number, rel: BoundRelation, depth: number): Outcome {
    if (typeof b === "number") return this.throughUserset(b, slot, obj, rel, depth);
    let res: Outcome = FALSE;
    for (const e of b) {
      const r = this.throughUserset(e, slot, obj, rel, depth);
      if (r === TRUE) return TRUE;
      res = merge(res, r);
    }
    return res;
  }

  private throughUserset(e: number, slot: Slot, obj: number, rel: BoundRelation, depth: number): Outcome {
    const ent = this.ent;
    const us = e >= 0 ? e : -e - 1;
    const typeId = ent.typeOf(us);
    const usRel = ent.usersetRelationOf(us);
    const ok = this.admit(rel, usersetKey(typeId, usRel), e >= 0 ? null : slot.condition(obj, us) ?? null);
    if (ok !== TRUE) return ok;
    const target = this.model.relation(typeId, usRel);
    if (target === undefined) return FALSE;
    const r = this.dispatch(ent.usersetObjectOf(us), target, depth + 1);
    if (r === TRUE && this.explain) this.why = this.node(obj, rel, "userset", `${ent.string(obj)}#${rel.def.name}@${ent.string(us)}`, [this.why]);
    return r;
  }

  private tupleToUserset(ts: BoundRelation, computedRelId: number, obj: number, rel: BoundRelation, depth: number): Outcome {
    const b = ts.slot.forward.get(obj);
    let res: Outcome = b === undefined ? FALSE : this.ttuOver(b, ts.slot, ts, computedRelId, obj, rel, depth);
    if (res === TRUE || this.overlay === null) return res;
    const o = this.overlay.peek(ts.typeId, ts.relId);
    const ob = o?.forward.get(obj);
    if (ob === undefined) return res;
    const r = this.ttuOver(ob, o!, ts, computedRelId, obj, rel, depth);
    if (r === TRUE) return TRUE;
    res = merge(res, r);
    return res;
  }

  private ttuOver(b: Bucket, slot: Slot, ts: BoundRelation, computedRelId: number, obj: number, rel: BoundRelation, depth: number): Outcome {
    if (typeof b === "number") return this.ttuOne(b, slot, ts, computedRelId, obj, rel, depth);
    let res: Outcome = FALSE;
    for (const e of b) {
      const r = this.ttuOne(e, slot, ts, computedRelId, obj, rel, depth);
      if (r === TRUE) return TRUE;
      res = merge(res, r);
    }
    return res;
  }

  private ttuOne(e: number, slot: Slot, ts: BoundRelation, computedRelId: number, obj: number, rel: BoundRelation, depth: number): Outcome {
    const ent = this.ent;
    const parent = e >= 0 ? e : -e - 1;
    if (ent.isWildcard(parent)) return FALSE;
    const typeId = ent.typeOf(parent);
    const ok = this.admit(ts, plainKey(typeId), e >= 0 ? null : slot.condition(obj, parent) ?? null);
    if (ok !== TRUE) return ok;
    const target = this.model.relation(typeId, computedRelId);
    if (target === undefined) return FALSE;
    const r = this.dispatch(parent, target, depth + 1);
    if (r === TRUE && this.explain) this.why = this.node(obj, rel, "tuple_to_userset", `${ent.string(obj)}#${ts.def.name}@${ent.string(parent)}`, [this.why]);
    return r;
  }

  private granted(obj: number, rel: BoundRelation, rule: Why["rule"], subj: number, cond: TupleCondition | null): Outcome {
    if (this.explain) {
      const w = this.node(obj, rel, rule, `${this.ent.string(obj)}#${rel.def.name}@${this.ent.string(subj)}`);
      if (cond) w.condition = cond.name;
      this.why = w;
    }
    return TRUE;
  }

  private node(obj: number, rel: BoundRelation, rule: Why["rule"], tuple?: string, because?: Array<Why | null>): Why {
    const w: Why = { object: obj >= 0 ? this.ent.string(obj) : "?", relation: rel.def.name, rule };
    if (tuple !== undefined) w.tuple = tuple;
    const b = because?.filter((x): x is Why => x !== null);
    if (b && b.length) w.because = b;
    return w;
  }
}

function hitIn(slot: Slot, obj: number, subj: number, userset: boolean): TupleCondition | null | undefined {
  const b = (userset ? slot.usersets : slot.forward).get(obj);
  if (b === undefined) return undefined;
  const neg = -subj - 1;
  if (typeof b === "number") {
    if (b === subj) return null;
    if (b === neg) return slot.condition(obj, subj) ?? null;
    return undefined;
  }
  if (Array.isArray(b)) {
    if (b.includes(subj)) return null;
    if (b.includes(neg)) return slot.condition(obj, subj) ?? null;
    return undefined;
  }
  if (b.has(subj)) return null;
  if (b.has(neg)) return slot.condition(obj, subj) ?? null;
  return undefined;
}
