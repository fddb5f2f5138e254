/**
 * Group commit of document writes: the writes issued in one turn of the event loop share one
 * transaction, so one WAL sync (synchronous=FULL: about 0.2 ms on this machine's disk, far more
 * under load) serves all of them instead of one each. An OIDC code exchange is five document
 * writes; alone, their syncs were half of the token endpoint's time.
 *
 * Guarantees kept: a write's promise resolves only after its transaction committed (durable), and
 * rejects if the commit failed (then nothing of the group is stored). What changes: another
 * request of this process may read a write of the open group before it is durable — it is never
 * acknowledged before, and if the commit fails, the writes that depended on it fail too.
 *
 * Other kinds of writes (tuples, models, the audit log) are transactions of their own with their
 * own guarantees: they call `flush()` first, which commits the open group at once, so they never
 * become savepoints of a group.
 */
import type { Database } from "better-sqlite3";

interface Waiter {
  resolve: () => void;
  reject: (err: unknown) => void;
}

export class GroupCommit {
  private waiters: Waiter[] | undefined;

  constructor(private readonly db: Database) {}

  /** Runs `fn` (synchronous statements) in the open group; resolves once the group committed. */
  async write<T>(fn: () => T): Promise<T> {
    this.open();
    // A failing statement is rolled back alone (SQLite statement atomicity); the group stays.
    const result = fn();
    await new Promise<void>((resolve, reject) => this.waiters!.push({ resolve, reject }));
    return result;
  }

  /** Commits the open group now (before a write of another kind, and at close). */
  flush(): void {
    const waiters = this.waiters;
    if (!waiters) return;
    this.waiters = undefined;
    try {
      this.db.exec("COMMIT");
    } catch (err) {
      try {
        if (this.db.inTransaction) this.db.exec("ROLLBACK");
      } catch {
        // Already rolled back by SQLite.
      }
      for (const w of waiters) w.reject(err);
      return;
    }
    for (const w of waiters) w.resolve();
  }

  private open(): void {
    if (this.waiters) return;
    this.db.exec("BEGIN");
    const waiters: Waiter[] = [];
    this.waiters = waiters;
    // After the writes of this turn (and their callers' synchronous follow-ups).
    setImmediate(() => {
      if (this.waiters === waiters) this.flush();
    });
  }
}
