/** Helpers shared by adapters: tuple filters and offset-based continuation tokens. */
import { TenetError } from "../errors.js";
import type { TupleKey } from "../policy/tuples/tuple.js";
import type { Page, PageRequest, TupleFilter } from "./interfaces.js";

export const DEFAULT_PAGE_SIZE = 50;
export const MAX_PAGE_SIZE = 100;

export function pageSize(page?: PageRequest): number {
  const n = page?.pageSize ?? DEFAULT_PAGE_SIZE;
  if (!Number.isInteger(n) || n < 1 || n > MAX_PAGE_SIZE) {
    throw new TenetError("validation_error", `page size must be an integer between 1 and ${MAX_PAGE_SIZE}`);
  }
  return n;
}

export function decodeToken(token: string | undefined): number {
  if (token === undefined || token === "") return 0;
  const n = Number.parseInt(Buffer.from(token, "base64url").toString("utf8"), 10);
  if (!Number.isSafeInteger(n) || n < 0) throw new TenetError("validation_error", "invalid continuation token");
  return n;
}

export function encodeToken(offset: number): string {
  return Buffer.from(String(offset), "utf8").toString("base64url");
}

export function pageOf<T>(all: T[], page?: PageRequest): Page<T> {
  const size = pageSize(page);
  const start = decodeToken(page?.continuationToken);
  const items = all.slice(start, start + size);
  return start + size < all.length ? { items, continuationToken: encodeToken(start + size) } : { items };
}

export function matchesFilter(t: TupleKey, f: TupleFilter): boolean {
  if (f.object) {
    if (f.object.endsWith(":")) {
      if (!t.object.startsWith(f.object)) return false;
    } else if (t.object !== f.object) return false;
  }
  if (f.relation && t.relation !== f.relation) return false;
  if (f.user && t.user !== f.user) return false;
  return true;
}
