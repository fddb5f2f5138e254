/**
 * The condition that makes a just-in-time grant's tuple end on its own. Add it to the model and
 * let the relations JIT may grant accept `user with tenet_jit_grant`, e.g.
 *
 *   type doc
 *     relations
 *       define editor: [user, user with tenet_jit_grant]
 *
 * and pass `current_time` (RFC 3339) in the context of checks. A tuple past its expiry is then
 * inert even before the sweeper deletes it. A model without the condition still works: the grant
 * is recorded with `tuple: { written: false, reason }` and the access-policy layer honours it
 * through `JitService.activeGrant`.
 */
import type { TupleKey, TupleKeyWithoutCondition } from "../tuples/tuple.js";

export const JIT_GRANT_CONDITION_NAME = "tenet_jit_grant";

/** The condition in OpenFGA's DSL (schema 1.1), to paste after the type definitions. */
export const JIT_GRANT_CONDITION_DSL = `condition tenet_jit_grant(current_time: timestamp, grant_expires_at: timestamp) {
  current_time < grant_expires_at
}`;

/** The same condition in the JSON model's `conditions` map. */
export const JIT_GRANT_CONDITION_JSON = {
  name: JIT_GRANT_CONDITION_NAME,
  expression: "current_time < grant_expires_at",
  parameters: {
    current_time: { type_name: "TYPE_NAME_TIMESTAMP" },
    grant_expires_at: { type_name: "TYPE_NAME_TIMESTAMP" },
  },
} as const;

/** The key of a grant's tuple: `resource#action@requester`. */
export function grantKey(r: { resource: string; action: string; requester: string }): TupleKeyWithoutCondition {
  return { object: r.resource, relation: r.action, user: r.requester };
}

/** The time-bound tuple of a grant that expires at `expiresAt` (RFC 3339). */
export function grantTuple(r: { resource: string; action: string; requester: string }, expiresAt: string): TupleKey {
  return { ...grantKey(r), condition: { name: JIT_GRANT_CONDITION_NAME, context: { grant_expires_at: expiresAt } } };
}

/** Is `t` exactly the tuple this grant wrote (so that deleting it removes nothing else)? */
export function isGrantTuple(t: TupleKey, expiresAt: string): boolean {
  return t.condition?.name === JIT_GRANT_CONDITION_NAME && t.condition.context?.grant_expires_at === expiresAt;
}
