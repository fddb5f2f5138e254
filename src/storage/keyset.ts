/**
 * Keyset pagination tokens shared by the SQL adapters: a continuation token is the sort key of
 * the last row of a page (opaque to callers: base64url JSON, tagged with what it pages over), so
 * deep pages cost an index seek, not an OFFSET scan, and stay stable while rows are written.
 * Each adapter builds its own SQL from these (see sqlite/keyset.ts and postgres/keyset.ts).
 */
import { TenetError } from "../errors.js";

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
