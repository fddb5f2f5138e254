/**
 * The PostgreSQL reads of tuple pages: filter conditions and the keyset condition that continues
 * after the last row of the previous page (tokens themselves: src/storage/keyset.ts).
 */
import type { TupleFilter } from "../interfaces.js";

export { decodeKeyset, encodeKeyset, type TokenKind, TUPLE_ORDER, type TupleColumn } from "../keyset.js";
import { TUPLE_ORDER, type TupleColumn } from "../keyset.js";

export interface TupleQuery {
  /** The full SELECT, parameters $1 (store id) onwards. */
  text: string;
  values: unknown[];
  /** Identifies the SQL text, for naming the prepared statement. */
  shape: string;
}

/**
 * Builds the read for a filter, continuing after `after` (the last row's key) if given. `type:`
 * (an object ending in ':') is a range on the object column, [`type:`, `type;`), which the
 * primary key serves: every string in it starts with `type:` because ';' follows ':'. Rows sort
 * by the key columns the filter does not fix, so each filter walks one index in order.
 */
export function tupleQuery(storeId: string, filter: TupleFilter, after: string[] | undefined, limit: number, columns: string): TupleQuery | undefined {
  const values: unknown[] = [storeId];
  const param = (v: unknown): string => {
    values.push(v);
    return `$${values.length}`;
  };
  const where = ["store_id = $1"];
  const fixed = new Set<TupleColumn>();
  let shape = "";
  if (filter.object) {
    if (filter.object.endsWith(":")) {
      where.push(`object >= ${param(filter.object)} AND object < ${param(`${filter.object.slice(0, -1)};`)}`);
      shape += "T";
    } else {
      where.push(`object = ${param(filter.object)}`);
      fixed.add("object");
      shape += "O";
    }
  }
  if (filter.relation) {
    where.push(`relation = ${param(filter.relation)}`);
    fixed.add("relation");
    shape += "R";
  }
  if (filter.user) {
    where.push(`subject = ${param(filter.user)}`);
    fixed.add("subject");
    shape += "U";
  }
  const order = TUPLE_ORDER.filter((c) => !fixed.has(c));
  if (after) {
    // Every key column is fixed: the one row there is came on the page before.
    if (order.length === 0) return undefined;
    const last = { object: after[0], relation: after[1], subject: after[2] };
    where.push(`(${order.join(", ")}) > (${order.map((c) => param(last[c])).join(", ")})`);
    shape += "+";
  }
  const orderBy = order.length > 0 ? ` ORDER BY ${order.join(", ")}` : "";
  return { text: `SELECT ${columns} FROM tuples WHERE ${where.join(" AND ")}${orderBy} LIMIT ${param(limit)}`, values, shape };
}
