/** Small helpers shared by the engine tests. */
import { Engine } from "../../src/policy/engine/engine.js";
import type { TupleKey } from "../../src/policy/tuples/tuple.js";

/** A tuple key, with a condition when given. */
export const T = (object: string, relation: string, user: string, condition?: TupleKey["condition"]): TupleKey =>
  condition === undefined ? { object, relation, user } : { object, relation, user, condition };

/** An engine whose index holds exactly these tuples. */
export function engineWith(tuples: TupleKey[]): Engine {
  const e = new Engine();
  for (const t of tuples) e.index.add(t);
  return e;
}
