/**
 * Keyset pagination for the SQLite adapter: a continuation token is the sort key of the last
 * row of a page (opaque to callers: base64url JSON, tagged with what it pages over), so deep
 * pages cost an index seek, not an OFFSET scan, and stay stable while other rows are written.
 *
 * The PostgreSQL adapter has its own copy (src/storage/postgres/keyset.ts): the two adapters
 * share no code so that each can be read, and changed, on its own.
 */
import { TenetError } from "../../errors.js";
import type { TupleFilter } from "../interfaces.js";

export type TokenKind = "store" | "model" | "tuple";

export function encodeKeyset(kind: TokenKind, key: readonly string[]): string {
  return Buffer.from(JSON.stringify([kind, ...key]), "utf8").toString("base64url");
}

/** The key a token carries, or undefined for no token. Throws validation_error for a bad one. */
export function decodeKeyset(kind: TokenKind, arity: number, token: string | undefined): string[] | undefined {
  if (token === undefined || token === "") return undefined;
  let value: unknown;
  try {
    value = JSON.parse(Buffer.from(token, "base64url").toString("utf8"));
  } catch {
    value = undefined;
  }
  if (
    !Array.isArray(value) ||
    value.length !== arity + 1 ||
    value[0] !== kind ||
    !value.every((v) => typeof v === "string")
  ) {
    throw new TenetError("validation_error", "invalid continuation token");
  }
  return value.slice(1) as string[];
}

/** The tuple columns, in the order of the primary key after store_id: the sort order of reads. */
export const TUPLE_ORDER = ["object", "relation", "subject"] as const;
export type TupleColumn = (typeof TUPLE_ORDER)[number];

export interface TupleQueryShape {
  /** SQL conditions after `store_id = ?`, with `?` placeholders, in parameter order. */
  where: string[];
  params: string[];
  /** Sort columns: the key columns the filter does not fix (a fixed column sorts nothing). */
  order: TupleColumn[];
  /** Identifies the SQL text, for caching prepared statements. */
  shape: string;
}

/**
 * Translates a filter into conditions. `type:` (an object ending in ':') is a range on the
 * object column, [`type:`, `type;`), which an index serves: every string in it starts with
 * `type:` because ';' is the character after ':'. `continuing`: a keyset condition will follow.
 */
export function tupleQuery(filter: TupleFilter, continuing: boolean): TupleQueryShape {
  const where: string[] = [];
  const params: string[] = [];
  const fixed = new Set<TupleColumn>();
  let shape = "";
  if (filter.object) {
    if (filter.object.endsWith(":")) {
      // When continuing, the keyset condition is the better lower bound: `+` keeps SQLite from
      // choosing this one for the index range, which would rescan every earlier page.
      where.push(continuing ? "+object >= ? AND object < ?" : "object >= ? AND object < ?");
      params.push(filter.object, `${filter.object.slice(0, -1)};`);
      shape += "T";
    } else {
      where.push("object = ?");
      params.push(filter.object);
      fixed.add("object");
      shape += "O";
    }
  }
  if (filter.relation) {
    where.push("relation = ?");
    params.push(filter.relation);
    fixed.add("relation");
    shape += "R";
  }
  if (filter.user) {
    where.push("subject = ?");
    params.push(filter.user);
    fixed.add("subject");
    shape += "U";
  }
  return { where, params, order: TUPLE_ORDER.filter((c) => !fixed.has(c)), shape };
}
