/**
 * Searching the SQLite audit log (AuditBackend.queryAudit).
 *
 * The store, subject, resource and policy indexes lead with the entry's block, `seq >> 12`
 * (migration 0005: appends stay cheap because the current block's index entries share a few
 * pages). A search on one of them therefore walks the blocks of its seq range in the asked order,
 * one index seek per block, until the page is full. The seq range comes from the paging cursor
 * and the time range: times never go backwards along the log (AuditLog assigns them), so the
 * time index turns a time range into a seq range with two seeks. The time conditions stay in the
 * statements as well, so a result never depends on that order holding.
 *
 * A sparse search over a long log costs one seek per 4,096 entries (about 2 ms per million
 * entries on the development machine); the other filters (type, decision) and time-only searches
 * use their plain indexes as before.
 */
import type Sqlite from "better-sqlite3";
import { AUDIT_FILTERS } from "../audit-rows.js";
import type { AuditQuery, AuditRow } from "../interfaces.js";

/** Selected under the AuditRow names, so that a row read is an AuditRow as it is (no copying). */
export const AUDIT_COLUMNS = "seq, time, type, class_uid AS classUid, store_id AS storeId, subject, resource, decision, policy, event, leaf_hash AS leafHash";

/** Entries per index block: the `12` of `seq >> 12` in migration 0005. */
const BLOCK_BITS = 12;

/** The block-keyed indexes, most selective filter first (a subject has few entries, a store many). */
const BLOCK_INDEXES = [
  ["subject", "audit_entries_by_subject"],
  ["resource", "audit_entries_by_resource"],
  ["policy", "audit_entries_by_policy"],
  ["storeId", "audit_entries_by_store"],
] as const satisfies ReadonlyArray<readonly [(typeof AUDIT_FILTERS)[number][0], string]>;

/** Plain indexes for filters with few distinct values. */
const PLAIN_INDEXES = [
  ["type", "audit_entries_by_type"],
  ["decision", "audit_entries_by_decision"],
] as const satisfies ReadonlyArray<readonly [(typeof AUDIT_FILTERS)[number][0], string]>;

type Statement = Sqlite.Statement<unknown[], AuditRow>;

export class SqliteAuditQuery {
  private readonly statements = new Map<string, Statement>();
  private readonly firstAtOrAfter: Sqlite.Statement<[string], number>;
  private readonly lastBefore: Sqlite.Statement<[string], number>;
  private readonly lastSeq: Sqlite.Statement<[], number | null>;

  constructor(private readonly db: Sqlite.Database) {
    this.firstAtOrAfter = db.prepare<[string], number>("SELECT seq FROM audit_entries WHERE time >= ? ORDER BY time, seq LIMIT 1").pluck();
    this.lastBefore = db.prepare<[string], number>("SELECT seq FROM audit_entries WHERE time < ? ORDER BY time DESC, seq DESC LIMIT 1").pluck();
    this.lastSeq = db.prepare<[], number | null>("SELECT max(seq) FROM audit_entries").pluck();
  }

  /** Entries matching every given filter, in seq order, at most `q.limit`. Runs synchronously. */
  run(q: AuditQuery): AuditRow[] {
    const filters: string[] = [];
    const params: unknown[] = [];
    let shape = "";
    for (const [key, column] of AUDIT_FILTERS) {
      const v = q[key];
      shape += v === undefined ? "-" : "f";
      if (v === undefined) continue;
      filters.push(`${column} = ?`);
      params.push(v);
    }
    const bounds: [unknown, string][] = [
      [q.from, "time >= ?"],
      [q.to, "time < ?"],
      [q.afterSeq, "seq > ?"],
      [q.beforeSeq, "seq < ?"],
    ];
    for (const [v, cond] of bounds) {
      shape += v === undefined ? "-" : "b";
      if (v === undefined) continue;
      filters.push(cond);
      params.push(v);
    }
    const desc = q.order === "desc";
    shape += desc ? "D" : "A";
    const block = BLOCK_INDEXES.find(([key]) => q[key] !== undefined)?.[1];
    if (!block) return this.statement(shape, filters, desc, PLAIN_INDEXES.find(([key]) => q[key] !== undefined)?.[1]).all(...params, q.limit);
    return this.walkBlocks(q, `${shape}#`, filters, params, desc, block);
  }

  private walkBlocks(q: AuditQuery, shape: string, filters: string[], params: unknown[], desc: boolean, index: string): AuditRow[] {
    const range = this.seqRange(q);
    if (!range || q.limit === 0) return [];
    const stmt = this.statement(shape, ["(seq >> 12) = ?", ...filters], desc, index);
    const first = range.lo >> BLOCK_BITS;
    const last = range.hi >> BLOCK_BITS;
    const out: AuditRow[] = [];
    for (let b = desc ? last : first; desc ? b >= first : b <= last; b += desc ? -1 : 1) {
      for (const row of stmt.all(b, ...params, q.limit - out.length)) out.push(row);
      if (out.length >= q.limit) break;
    }
    return out;
  }

  /** The smallest seq range that can hold a match, or undefined when none can. */
  private seqRange(q: AuditQuery): { lo: number; hi: number } | undefined {
    const end = this.lastSeq.get();
    if (end === null || end === undefined) return undefined;
    let lo = q.afterSeq === undefined ? 0 : Math.max(0, q.afterSeq + 1);
    let hi = q.beforeSeq === undefined ? end : Math.min(end, q.beforeSeq - 1);
    if (q.from !== undefined) {
      const s = this.firstAtOrAfter.get(q.from);
      if (s === undefined) return undefined;
      lo = Math.max(lo, s);
    }
    if (q.to !== undefined) {
      const s = this.lastBefore.get(q.to);
      if (s === undefined) return undefined;
      hi = Math.min(hi, s);
    }
    return lo <= hi ? { lo, hi } : undefined;
  }

  private statement(shape: string, where: string[], desc: boolean, index: string | undefined): Statement {
    let stmt = this.statements.get(shape);
    if (!stmt) {
      // Without statistics SQLite picks among the filters' indexes arbitrarily (decision, say,
      // over subject); the most selective filter's index is named instead. With no filter but
      // time, SQLite chooses between the seq order and the time index itself.
      const from = index ? `audit_entries INDEXED BY ${index}` : "audit_entries";
      const sql = `SELECT ${AUDIT_COLUMNS} FROM ${from}${where.length > 0 ? ` WHERE ${where.join(" AND ")}` : ""} ORDER BY seq ${desc ? "DESC" : "ASC"} LIMIT ?`;
      stmt = this.db.prepare<unknown[], AuditRow>(sql);
      this.statements.set(shape, stmt);
    }
    return stmt;
  }
}
