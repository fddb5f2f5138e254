/**
 * Synchronous check evaluation over the in-memory indexes.
 *
 * Results are small integers so that errors and cycles travel through union, intersection and
 * exclusion the way OpenFGA combines them: a union is true if any branch is true, an intersection
 * false if any branch is false, an exclusion false if its base is false or its subtraction true;
 * otherwise an error (failed condition, depth exceeded) or a cycle wins over plain false. A cycle
 * that reaches the top is "not allowed". Sub-results are memoised per request by object#relation
 * (the subject is fixed for a resolver), and cycles are detected with the set of nodes on the
 * current path.
 */
import { TenetError } from "../../errors.js";
import type { TupleCondition } from "../tuples/tuple.js";
import type { Bucket } from "./bucket.js";
import { type BoundModel, type BoundRelation, type BoundRewrite, plainKey, usersetKey, wildcardKey } from "./bound-model.js";
import type { EntityTable } from "./entity-table.js";
import type { TupleIndex } from "./tuple-index.js";

export const FALSE = 0;
export const TRUE = 1;
export const CYCLE = 2;
export const ERROR = 3;
export type Outcome = 0 | 1 | 2 | 3;

/** OpenFGA's default resolution depth limit (`--max-resolution-depth`). */
export const MAX_DEPTH = 25;
const REL_STRIDE = 4096;

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
  /** The user as the caller wrote it. */
  text: string;
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

const EMPTY: number[] = [];
function ids(b: Bucket | undefined): number[] | readonly number[] {
  if (b === undefined) return EMPTY;
  if (typeof b === "number") return [b];
  return Array.isArray(b) ? b : [...b];
}

export class Resolver {
  readonly ent: EntityTable;
  error: TenetError | null = null;
  why: Why | null = null;
  private memo: Map<number, Outcome> | null = null;
  private whyMemo: Map<number, Why | null> | null = null;
  private visiting: Set<number> | null = null;
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

  /** Resolves `user` for the subject of the next checks (memo is kept while the subject stays). */
  setSubject(subject: Subject): void {
    if (this.subject !== subject) {
      this.subject = subject;
      this.memo = null;
      this.whyMemo = null;
    }
  }

  /** Builds a Subject for a validated user string. */
  subjectFor(user: string): Subject {
    const ent = this.ent;
    const id = ent.lookup(user);
    const hash = user.indexOf("#");
    const colon = user.indexOf(":");
    const typeId = ent.types.lookup(user.slice(0, colon));
    if (hash >= 0) {
      const objId = ent.lookup(user.slice(0, hash));
      return { id, kind: SUBJECT_USERSET, typeId, wildcardId: -1, usObject: objId, usRelation: ent.relations.lookup(user.slice(hash + 1)), text: user };
    }
    if (user.length === colon + 2 && user.charCodeAt(colon + 1) === 42) {
      return { id, kind: SUBJECT_WILDCARD, typeId, wildcardId: id, usObject: -1, usRelation: -1, text: user };
    }
    return { id, kind: SUBJECT_OBJECT, typeId, wildcardId: ent.lookup(`${user.slice(0, colon)}:*`), usObject: -1, usRelation: -1, text: user };
  }

  /** Top-level check: does the subject have `rel` on `obj`? */
  check(obj: number, rel: BoundRelation): Outcome {
    const s = this.subject;
    if (s.kind === SUBJECT_USERSET && s.usObject === obj && s.usRelation === rel.relId && obj >= 0) {
      // (The engine interns unknown objects per request, so ids are never -1 here.)
      if (this.explain) this.why = { object: this.ent.string(obj), relation: rel.def.name, rule: "self" };
      return TRUE;
    }
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
    const key = obj * REL_STRIDE + rel.relId;
    const memo = (this.memo ??= new Map());
    const known = memo.get(key);
    if (known !== undefined) {
      if (this.explain) this.why = this.whyMemo?.get(key) ?? null;
      return known;
    }
    const visiting = (this.visiting ??= new Set());
    if (visiting.has(key)) return CYCLE;
    visiting.add(key);
    const r = this.rewrite(rel.rewrite, obj, rel, depth);
    visiting.delete(key);
    if (r === TRUE || r === FALSE) {
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

  /** Looks up a direct tuple: undefined when absent, null when present without a condition. */
  private hit(relId: number, obj: number, subj: number, userset: boolean): TupleCondition | null | undefined {
    const base = this.base;
    const b = userset ? base.usersets(relId, obj) : base.subjects(relId, obj);
    if (b !== undefined && (b === subj || (typeof b !== "number" && (Array.isArray(b) ? b.includes(subj) : b.has(subj))))) {
      return base.condition(relId, obj, subj) ?? null;
    }
    const o = this.overlay;
    if (o === null) return undefined;
    const ob = userset ? o.usersets(relId, obj) : o.subjects(relId, obj);
    if (ob !== undefined && (ob === subj || (typeof ob !== "number" && (Array.isArray(ob) ? ob.includes(subj) : ob.has(subj))))) {
      return o.condition(relId, obj, subj) ?? null;
    }
    return undefined;
  }

  private conditionOf(relId: number, obj: number, subj: number): TupleCondition | null {
    return this.base.condition(relId, obj, subj) ?? this.overlay?.condition(relId, obj, subj) ?? null;
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
    const relId = rel.relId;
    let res: Outcome = FALSE;
    if (s.kind === SUBJECT_USERSET) {
      if (s.id >= 0) {
        const h = this.hit(relId, obj, s.id, true);
        if (h !== undefined) {
          const r = this.admit(rel, usersetKey(s.typeId, s.usRelation), h);
          if (r === TRUE) return this.granted(obj, rel, "direct", s.id, h);
          res = r;
        }
      }
    } else {
      if (s.id >= 0) {
        const h = this.hit(relId, obj, s.id, false);
        if (h !== undefined) {
          const r = this.admit(rel, s.kind === SUBJECT_WILDCARD ? wildcardKey(s.typeId) : plainKey(s.typeId), h);
          if (r === TRUE) return this.granted(obj, rel, s.kind === SUBJECT_WILDCARD ? "wildcard" : "direct", s.id, h);
          res = merge(res, r);
        }
      }
      if (s.kind === SUBJECT_OBJECT && s.wildcardId >= 0) {
        const h = this.hit(relId, obj, s.wildcardId, false);
        if (h !== undefined) {
          const r = this.admit(rel, wildcardKey(s.typeId), h);
          if (r === TRUE) return this.granted(obj, rel, "wildcard", s.wildcardId, h);
          res = merge(res, r);
        }
      }
    }
    const ub = this.base.usersets(relId, obj);
    if (ub !== undefined) res = merge(res, this.throughUsersets(ids(ub), obj, rel, depth));
    if (res === TRUE) return TRUE;
    if (this.overlay !== null) {
      const ob = this.overlay.usersets(relId, obj);
      if (ob !== undefined) {
        const r = this.throughUsersets(ids(ob), obj, rel, depth);
        if (r === TRUE) return TRUE;
        res = merge(res, r);
      }
    }
    return res;
  }

  private throughUsersets(list: readonly number[], obj: number, rel: BoundRelation, depth: number): Outcome {
    const ent = this.ent;
    let res: Outcome = FALSE;
    for (let i = 0; i < list.length; i++) {
      const us = list[i]!;
      const typeId = ent.typeOf(us);
      const usRel = ent.usersetRelationOf(us);
      const ok = this.admit(rel, usersetKey(typeId, usRel), this.conditionOf(rel.relId, obj, us));
      if (ok !== TRUE) {
        res = merge(res, ok);
        continue;
      }
      const target = this.model.relation(typeId, usRel);
      if (target === undefined) continue;
      const r = this.dispatch(ent.usersetObjectOf(us), target, depth + 1);
      if (r === TRUE) {
        if (this.explain) this.why = this.node(obj, rel, "userset", `${ent.string(obj)}#${rel.def.name}@${ent.string(us)}`, [this.why]);
        return TRUE;
      }
      res = merge(res, r);
    }
    return res;
  }

  private tupleToUserset(ts: BoundRelation, computedRelId: number, obj: number, rel: BoundRelation, depth: number): Outcome {
    let res = this.ttuOver(this.base.subjects(ts.relId, obj), ts, computedRelId, obj, rel, depth);
    if (res === TRUE || this.overlay === null) return res;
    const r = this.ttuOver(this.overlay.subjects(ts.relId, obj), ts, computedRelId, obj, rel, depth);
    if (r === TRUE) return TRUE;
    res = merge(res, r);
    return res;
  }

  private ttuOver(b: Bucket | undefined, ts: BoundRelation, computedRelId: number, obj: number, rel: BoundRelation, depth: number): Outcome {
    if (b === undefined) return FALSE;
    const ent = this.ent;
    const list = ids(b);
    let res: Outcome = FALSE;
    for (let i = 0; i < list.length; i++) {
      const parent = list[i]!;
      if (ent.isWildcard(parent)) continue;
      const typeId = ent.typeOf(parent);
      const cond = this.conditionOf(ts.relId, obj, parent);
      const ok = this.admit(ts, plainKey(typeId), cond);
      if (ok !== TRUE) {
        res = merge(res, ok);
        continue;
      }
      const target = this.model.relation(typeId, computedRelId);
      if (target === undefined) continue;
      const r = this.dispatch(parent, target, depth + 1);
      if (r === TRUE) {
        if (this.explain) this.why = this.node(obj, rel, "tuple_to_userset", `${ent.string(obj)}#${ts.def.name}@${ent.string(parent)}`, [this.why]);
        return TRUE;
      }
      res = merge(res, r);
    }
    return res;
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
