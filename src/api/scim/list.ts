/**
 * Listing and querying resources (RFC 7644 §3.4.2): `filter`, 1-based `startIndex`, `count`
 * (capped), `attributes`/`excludedAttributes`, answered as a ListResponse. Sorting is not
 * supported (ServiceProviderConfig says so); results are in id order.
 *
 * The directory pages by id, not by offset, and has no count: a page and `totalResults` come
 * from one pass over the candidates (one index lookup for `userName`/`externalId`/`id`/e-mail/
 * group-name filters, else every resource), keeping only the requested window in memory.
 */
import { invalidValue } from "./errors.js";
import { type Filter, matches, parseFilter } from "./filter.js";
import { type Json, type Projection, parseProjection } from "./mapping.js";
import { LIST_RESPONSE_SCHEMA, type ResourceSchema } from "./schemas.js";

export const DEFAULT_MAX_RESULTS = 200;

export interface ListQuery {
  filter: Filter | undefined;
  /** 1-based. */
  startIndex: number;
  count: number;
  projection: Projection;
}

function one(q: Record<string, unknown>, name: string): string | undefined {
  const v = q[name];
  if (v === undefined) return undefined;
  if (typeof v !== "string") throw invalidValue(`give ${name} once`);
  return v;
}

function integer(q: Record<string, unknown>, name: string): number | undefined {
  const v = one(q, name);
  if (v === undefined || v === "") return undefined;
  if (!/^-?\d{1,9}$/.test(v.trim())) throw invalidValue(`${name} must be an integer`);
  return Number(v.trim());
}

export function projectionOf(q: unknown, rs: ResourceSchema): Projection {
  const query = (q ?? {}) as Record<string, unknown>;
  return parseProjection(rs, one(query, "attributes"), one(query, "excludedAttributes"));
}

export function listQuery(q: unknown, rs: ResourceSchema, maxResults: number): ListQuery {
  const query = (q ?? {}) as Record<string, unknown>;
  const filterText = one(query, "filter");
  // RFC 7644 §3.4.2.4: a startIndex below 1 is read as 1; a negative count as 0; and a count
  // above the maximum is lowered to it.
  const startIndex = Math.max(1, integer(query, "startIndex") ?? 1);
  const count = Math.min(maxResults, Math.max(0, integer(query, "count") ?? maxResults));
  return {
    filter: filterText === undefined ? undefined : parseFilter(filterText, rs),
    startIndex,
    count,
    projection: projectionOf(query, rs),
  };
}

/**
 * One pass over `candidates`: how many match (`total`) and the matches in the requested window.
 * `view` gives the (cheap) resource the filter is evaluated on.
 */
export async function window<T>(candidates: AsyncIterable<T> | Iterable<T>, view: (t: T) => Json, q: ListQuery): Promise<{ total: number; items: T[] }> {
  let total = 0;
  const items: T[] = [];
  const first = q.startIndex - 1;
  for await (const t of candidates) {
    if (q.filter && !matches(view(t), q.filter)) continue;
    if (total >= first && items.length < q.count) items.push(t);
    total++;
  }
  return { total, items };
}

export function listResponse(resources: Json[], total: number, startIndex: number): Json {
  return { schemas: [LIST_RESPONSE_SCHEMA], totalResults: total, itemsPerPage: resources.length, startIndex, Resources: resources };
}

/** Every item of a directory collection, in id order, a page at a time. */
export async function* scan<T extends { id: string }>(list: (opts: { after?: string | undefined; limit: number }) => Promise<T[]>): AsyncGenerator<T> {
  let after: string | undefined;
  for (;;) {
    const page = await list({ after, limit: 500 });
    yield* page;
    if (page.length < 500) return;
    after = page[page.length - 1]!.id;
  }
}
