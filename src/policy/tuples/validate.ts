/**
 * Validates a tuple against a model the way OpenFGA does before writing it (or using it as a
 * contextual tuple): the object's type and relation exist, the relation is directly assignable,
 * the user matches one of its type restrictions, and the condition (if any) is the one the
 * restriction names.
 */
import { TenetError } from "../../errors.js";
import type { TypeSystem } from "../model/typesystem.js";
import type { RelationReference } from "../model/types.js";
import { parseObject, parseUser, tupleKeyString, type TupleKey } from "./tuple.js";

/** Limit on a tuple's condition context, as OpenFGA (32 KiB). */
const MAX_CONTEXT_BYTES = 32 * 1024;

function invalid(t: TupleKey, reason: string): never {
  const key = typeof t?.object === "string" && typeof t?.relation === "string" && typeof t?.user === "string" ? tupleKeyString(t) : JSON.stringify(t);
  throw new TenetError("invalid_tuple", `invalid tuple '${key}': ${reason}`, { details: [{ where: key, message: reason }] });
}

export function validateTuple(ts: TypeSystem, t: TupleKey): void {
  if (typeof t !== "object" || t === null) invalid(t, "a tuple must be an object with object, relation and user");
  if (typeof t.object !== "string" || typeof t.relation !== "string" || typeof t.user !== "string") {
    invalid(t, "object, relation and user must be strings");
  }
  let object, user;
  try {
    object = parseObject(t.object);
    user = parseUser(t.user);
  } catch (err) {
    invalid(t, (err as Error).message);
  }
  const type = ts.types.get(object.type);
  if (!type) invalid(t, `type '${object.type}' is not defined in the model`);
  const rel = type.relations.get(t.relation);
  if (!rel) invalid(t, `relation '${object.type}#${t.relation}' is not defined in the model`);
  if (!ts.hasType(user.type)) invalid(t, `user type '${user.type}' is not defined in the model`);
  if (user.kind === "userset" && !ts.relation(user.type, user.relation)) {
    invalid(t, `relation '${user.type}#${user.relation}' is not defined in the model`);
  }
  if (rel.directTypes.length === 0) invalid(t, `relation '${object.type}#${t.relation}' is not directly assignable`);
  const cond = t.condition;
  if (cond !== undefined && cond !== null) {
    if (typeof cond !== "object" || typeof cond.name !== "string" || cond.name === "") invalid(t, "condition must have a name");
    if (!ts.conditions.has(cond.name)) invalid(t, `condition '${cond.name}' is not defined in the model`);
    if (cond.context !== undefined && (typeof cond.context !== "object" || cond.context === null || Array.isArray(cond.context))) {
      invalid(t, "condition context must be an object");
    }
    if (cond.context !== undefined && JSON.stringify(cond.context).length > MAX_CONTEXT_BYTES) {
      invalid(t, `condition context is larger than ${MAX_CONTEXT_BYTES} bytes`);
    }
  }
  const condName = cond?.name ?? undefined;
  if (!rel.directTypes.some((ref) => matches(ref, user, condName))) {
    const allowed = rel.directTypes.map(describe).join(", ");
    invalid(t, `type restriction: '${object.type}#${t.relation}' allows [${allowed}]`);
  }
}

function matches(ref: RelationReference, user: ReturnType<typeof parseUser>, condition: string | undefined): boolean {
  if (ref.type !== user.type) return false;
  if ((ref.condition ?? undefined) !== condition) return false;
  switch (user.kind) {
    case "object":
      return !ref.relation && !ref.wildcard;
    case "wildcard":
      return !!ref.wildcard;
    case "userset":
      return ref.relation === user.relation;
  }
}

function describe(ref: RelationReference): string {
  const base = ref.wildcard ? `${ref.type}:*` : ref.relation ? `${ref.type}#${ref.relation}` : ref.type;
  return ref.condition ? `${base} with ${ref.condition}` : base;
}
