/**
 * Relationship tuples in OpenFGA's shape: `object` is `type:id`, `user` is `type:id`, `type:*`
 * (every subject of that type) or `type:id#relation` (a userset).
 */
import { TenetError } from "../../errors.js";

export interface TupleCondition {
  name: string;
  context?: Record<string, unknown>;
}

export interface TupleKey {
  object: string;
  relation: string;
  user: string;
  condition?: TupleCondition;
}

/** The parts of a tuple without its condition: what identifies it. */
export interface TupleKeyWithoutCondition {
  object: string;
  relation: string;
  user: string;
}

export interface ParsedObject {
  type: string;
  id: string;
}

export type ParsedUser =
  | { kind: "object"; type: string; id: string }
  | { kind: "wildcard"; type: string }
  | { kind: "userset"; type: string; id: string; relation: string };

const MAX_ID_LENGTH = 256;
const NAME = /^[^:#@\s*]{1,254}$/;
// OpenFGA object ids may hold almost anything except whitespace, '#' and ':'; see openfga/api validation.
const OBJECT_ID = /^[^#:\s]{1,256}$/;

export function isValidName(name: string): boolean {
  return NAME.test(name);
}

export function parseObject(value: string, where = "object"): ParsedObject {
  if (typeof value !== "string" || value.length > MAX_ID_LENGTH + 255) {
    throw new TenetError("validation_error", `${where} must be a string of the form 'type:id'`);
  }
  const colon = value.indexOf(":");
  if (colon <= 0) throw new TenetError("validation_error", `invalid ${where} '${value}': expected 'type:id'`);
  const type = value.slice(0, colon);
  const id = value.slice(colon + 1);
  if (!NAME.test(type) || !OBJECT_ID.test(id) || id === "*") {
    throw new TenetError("validation_error", `invalid ${where} '${value}': expected 'type:id'`);
  }
  return { type, id };
}

export function parseUser(value: string, where = "user"): ParsedUser {
  if (typeof value !== "string" || value.length > MAX_ID_LENGTH + 512) {
    throw new TenetError("validation_error", `${where} must be a string`);
  }
  const colon = value.indexOf(":");
  if (colon <= 0) throw new TenetError("validation_error", `invalid ${where} '${value}': expected 'type:id', 'type:*' or 'type:id#relation'`);
  const type = value.slice(0, colon);
  let rest = value.slice(colon + 1);
  if (!NAME.test(type)) throw new TenetError("validation_error", `invalid ${where} '${value}': bad type name`);
  const hash = rest.indexOf("#");
  if (hash >= 0) {
    const relation = rest.slice(hash + 1);
    rest = rest.slice(0, hash);
    if (!NAME.test(relation) || !OBJECT_ID.test(rest) || rest === "*") {
      throw new TenetError("validation_error", `invalid ${where} '${value}': expected 'type:id#relation'`);
    }
    return { kind: "userset", type, id: rest, relation };
  }
  if (rest === "*") return { kind: "wildcard", type };
  if (!OBJECT_ID.test(rest)) throw new TenetError("validation_error", `invalid ${where} '${value}': bad id`);
  return { kind: "object", type, id: rest };
}

export function tupleKeyString(t: TupleKeyWithoutCondition): string {
  return `${t.object}#${t.relation}@${t.user}`;
}
