/**
 * ListObjects by reverse expansion: starting from the user, walk the reverse index upwards
 * (tuples naming the user or a userset it belongs to, computed relations, tuple-to-userset
 * parents) to collect every object the user could reach; each candidate of the requested
 * type is then confirmed with a check, which applies intersections, exclusions and conditions.
 * Work is proportional to what the user can reach, not to the number of objects.
 */
import type { BoundModel, BoundRelation, BoundRewrite } from "./bound-model.js";
import type { Bucket } from "./bucket.js";
import { type Resolver, type Subject, SUBJECT_OBJECT, SUBJECT_USERSET, TRUE, ERROR } from "./resolver.js";
import type { RevBucket, TupleIndex } from "./tuple-index.js";

const REL_STRIDE = 4096;

interface ReverseEdges {
  /** relId (of the same type) → relations of that type whose rewrite uses it as a computed userset. */
  computedParents: Map<number, number[]>;
  /** computed relId → TTU users: relation `relId` on typeId through tupleset `tuplesetRelId`. */
  ttuParents: Map<number, Array<{ typeId: number; tuplesetRelId: number; relId: number }>>;
  /** Every relation id used by the model (for reverse look-ups by subject). */
  relIds: number[];
}

const edgesCache = new WeakMap<BoundModel, ReverseEdges>();

function reverseEdges(model: BoundModel): ReverseEdges {
  const cached = edgesCache.get(model);
  if (cached) return cached;
  const e: ReverseEdges = { computedParents: new Map(), ttuParents: new Map(), relIds: [] };
  const relSet = new Set<number>();
  for (const typeId of model.allTypes()) {
    for (const rel of model.relationsOf(typeId)) {
      relSet.add(rel.relId);
      const walk = (rw: BoundRewrite): void => {
        switch (rw.k) {
          case 1: {
            const key = typeId * REL_STRIDE + rw.relation.relId;
            const list = e.computedParents.get(key) ?? [];
            list.push(rel.relId);
            e.computedParents.set(key, list);
            return;
          }
          case 2: {
            const list = e.ttuParents.get(rw.computedRelId) ?? [];
            list.push({ typeId, tuplesetRelId: rw.tupleset.relId, relId: rel.relId });
            e.ttuParents.set(rw.computedRelId, list);
            return;
          }
          case 3:
          case 4:
            rw.children.forEach(walk);
            return;
          case 5:
            // Only the base can grant: the subtracted branch never adds objects.
            walk(rw.base);
            return;
          default:
            return;
        }
      };
      walk(rel.rewrite);
    }
  }
  e.relIds = [...relSet];
  edgesCache.set(model, e);
  return e;
}

function forEachId(b: Bucket | RevBucket | undefined, fn: (id: number) => void): void {
  if (b === undefined) return;
  if (typeof b === "number") fn(b);
  else for (const id of b) fn(id);
}

export interface ListObjectsOptions {
  /** Stop after this many results (OpenFGA's default is 1000). */
  maxResults: number;
}

/** Returns the entity ids of objects of `target`'s type on which the subject has `target`. */
export function listObjects(
  resolver: Resolver,
  base: TupleIndex,
  overlay: TupleIndex | null,
  subject: Subject,
  target: BoundRelation,
  opts: ListObjectsOptions,
): number[] {
  const model = resolver.model;
  const ent = resolver.ent;
  const edges = reverseEdges(model);
  const seen = new Set<number>();
  const queue: number[] = []; // pairs: entity id, relation id
  const candidates: number[] = [];
  const candidateSeen = new Set<number>();

  const push = (obj: number, relId: number): void => {
    const key = obj * REL_STRIDE + relId;
    if (seen.has(key)) return;
    seen.add(key);
    queue.push(obj, relId);
    if (relId === target.relId && ent.typeOf(obj) === target.typeId && !candidateSeen.has(obj)) {
      candidateSeen.add(obj);
      candidates.push(obj);
    }
  };
  const slots = [...base.allSlots()];
  const overlaySlots = overlay ? [...overlay.allSlots()] : [];
  const fromSubject = (subj: number): void => {
    for (const slot of slots) forEachId(slot.reverse.get(subj), (o) => push(o, slot.relId));
    for (const slot of overlaySlots) forEachId(slot.reverse.get(subj), (o) => push(o, slot.relId));
  };

  if (subject.id >= 0) fromSubject(subject.id);
  if (subject.kind === SUBJECT_OBJECT && subject.wildcardId >= 0) fromSubject(subject.wildcardId);
  if (subject.kind === SUBJECT_USERSET && subject.usObject >= 0) push(subject.usObject, subject.usRelation);

  while (queue.length > 0) {
    const relId = queue.pop()!;
    const obj = queue.pop()!;
    const typeId = ent.typeOf(obj);
    // Tuples whose subject is the userset obj#rel.
    const us = ent.usersetIdOf(obj, relId);
    if (us >= 0) fromSubject(us);
    const parents = edges.computedParents.get(typeId * REL_STRIDE + relId);
    if (parents) for (const p of parents) push(obj, p);
    const ttus = edges.ttuParents.get(relId);
    if (ttus) {
      for (const t of ttus) {
        const visit = (o: number): void => {
          if (ent.typeOf(o) === t.typeId) push(o, t.relId);
        };
        forEachId(base.peek(t.typeId, t.tuplesetRelId)?.reverse.get(obj), visit);
        if (overlay) forEachId(overlay.peek(t.typeId, t.tuplesetRelId)?.reverse.get(obj), visit);
      }
    }
  }

  resolver.setSubject(subject);
  const out: number[] = [];
  for (const obj of candidates) {
    const r = resolver.check(obj, target);
    if (r === TRUE) {
      out.push(obj);
      if (out.length >= opts.maxResults) break;
    } else if (r === ERROR && resolver.error && resolver.error.code !== "resolution_too_complex") {
      // A condition that cannot be evaluated for this object is an error for the whole request,
      // as in OpenFGA; objects whose answer is simply "no" are dropped.
      throw resolver.error;
    }
    resolver.error = null;
  }
  return out;
}
