/**
 * ListUsers by forward expansion: walk down from object#relation through the forward index
 * (direct subjects, usersets, computed relations, tuple-to-userset parents) collecting subjects
 * that match the filter, then confirm each with a check so that intersections, exclusions and
 * conditions apply exactly as in Check.
 */
import { TenetError } from "../../errors.js";
import type { BoundRelation, BoundRewrite } from "./bound-model.js";
import type { Bucket } from "./bucket.js";
import { MAX_DEPTH, type Resolver, TRUE, ERROR } from "./resolver.js";
import { decodeSubject, type TupleIndex } from "./tuple-index.js";

const REL_STRIDE = 4096;

export interface UserFilter {
  typeId: number;
  /** Relation id for userset filters (`group#member`), or -1 for objects and wildcards. */
  relId: number;
}

function forEachId(b: Bucket | undefined, fn: (id: number) => void): void {
  if (b === undefined) return;
  if (typeof b === "number") fn(b);
  else for (const id of b) fn(id);
}

/** Returns user strings (`type:id`, `type:*` or `type:id#rel`) with `rel` on `obj`. */
export function listUsers(
  resolver: Resolver,
  base: TupleIndex,
  overlay: TupleIndex | null,
  obj: number,
  rel: BoundRelation,
  filter: UserFilter,
  maxResults: number,
): string[] {
  const model = resolver.model;
  const ent = resolver.ent;
  const seen = new Set<number>();
  const candidates = new Set<number>();
  const selfCandidates: string[] = [];

  const subjectsOf = (r: BoundRelation, o: number, fn: (id: number) => void, usersets: boolean): void => {
    const decoded = (e: number) => fn(decodeSubject(e));
    forEachId((usersets ? r.slot.usersets : r.slot.forward).get(o), decoded);
    const os = overlay?.peek(r.typeId, r.relId);
    if (os) forEachId((usersets ? os.usersets : os.forward).get(o), decoded);
  };

  const visit = (o: number, r: BoundRelation, depth: number): void => {
    if (depth > MAX_DEPTH) {
      throw new TenetError("resolution_too_complex", `resolution too complex: exceeded the depth limit of ${MAX_DEPTH}`);
    }
    const key = o * REL_STRIDE + r.relId;
    if (seen.has(key)) return;
    seen.add(key);
    if (filter.relId >= 0 && r.typeId === filter.typeId && r.relId === filter.relId) {
      selfCandidates.push(`${ent.string(o)}#${r.def.name}`);
    }
    walk(r.rewrite, o, r, depth);
  };

  const walk = (rw: BoundRewrite, o: number, r: BoundRelation, depth: number): void => {
    switch (rw.k) {
      case 0:
        if (filter.relId < 0) {
          subjectsOf(r, o, (s) => {
            if (ent.typeOf(s) === filter.typeId) candidates.add(s);
          }, false);
        }
        subjectsOf(r, o, (us) => {
          const typeId = ent.typeOf(us);
          const usRel = ent.usersetRelationOf(us);
          const target = model.relation(typeId, usRel);
          if (target) visit(ent.usersetObjectOf(us), target, depth + 1);
        }, true);
        return;
      case 1:
        visit(o, rw.relation, depth + 1);
        return;
      case 2:
        subjectsOf(rw.tupleset, o, (p) => {
          if (ent.isWildcard(p)) return;
          const target = model.relation(ent.typeOf(p), rw.computedRelId);
          if (target) visit(p, target, depth + 1);
        }, false);
        return;
      case 3:
      case 4:
        for (const c of rw.children) walk(c, o, r, depth);
        return;
      case 5:
        walk(rw.base, o, r, depth);
        return;
    }
  };

  visit(obj, rel, 0);

  const out: string[] = [];
  const confirm = (user: string): void => {
    if (out.length >= maxResults) return;
    const subject = resolver.subjectFor(user);
    resolver.setSubject(subject);
    const r = resolver.check(obj, rel);
    if (r === TRUE) out.push(user);
    else if (r === ERROR && resolver.error) throw resolver.error;
  };
  for (const s of candidates) confirm(ent.string(s));
  for (const u of selfCandidates) confirm(u);
  return out;
}
