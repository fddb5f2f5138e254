/**
 * The SQLite reads of tuple pages: filter conditions and the keyset condition that continues
 * after the last row of the previous page (tokens themselves: src/storage/keyset.ts).
 */
import type { TupleFilter } from "../interfaces.js";

export { decodeKeyset, encodeKeyset, type TokenKind, TUPLE_ORDER, type TupleColumn } from "../keyset.js";
import { TUPLE_ORDER, type TupleColumn } from "../keyset.js";

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
