/** Argument checks shared by the JIT operations: each throws `validation_error` naming the field. */
import { TenetError } from "../../errors.js";
import { isValidName, parseObject, parseUser } from "../tuples/tuple.js";

// Free text may hold line breaks and tabs, no other control characters.
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f]/;

export const MAX_TEXT = 1000;

/** A reason or justification: 1 to 1000 characters, not only spaces. */
export function text(value: unknown, where: string): string {
  if (typeof value !== "string" || value.trim().length === 0) throw new TenetError("validation_error", `${where} is required (1 to ${MAX_TEXT} characters)`);
  if (value.length > MAX_TEXT) throw new TenetError("validation_error", `${where} must be at most ${MAX_TEXT} characters (got ${value.length})`);
  if (CONTROL.test(value)) throw new TenetError("validation_error", `${where} must not contain control characters`);
  return value;
}

/** A concrete subject, `type:id` (no wildcard, no userset): `user:anne`. */
export function subject(value: unknown, where: string): string {
  if (typeof value !== "string") throw new TenetError("validation_error", `${where} must be a subject such as 'user:anne'`);
  const u = parseUser(value, where);
  if (u.kind !== "object") throw new TenetError("validation_error", `${where} must name one subject ('user:anne'), not '${value}'`);
  return value;
}

/** An object, `type:id`: `doc:1`. */
export function object(value: unknown, where: string): string {
  if (typeof value !== "string") throw new TenetError("validation_error", `${where} must be an object such as 'doc:1'`);
  parseObject(value, where);
  return value;
}

/** A relation name: `editor`. */
export function relation(value: unknown, where: string): string {
  if (typeof value !== "string" || value.length > 50 || !isValidName(value)) {
    throw new TenetError("validation_error", `${where} must be a relation name such as 'editor'`);
  }
  return value;
}
