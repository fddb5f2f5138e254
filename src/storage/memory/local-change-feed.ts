/**
 * The change feed of an embedded datastore (memory, SQLite): one process owns the data, so
 * subscribers are in-process listeners, called synchronously after each committed tuple write.
 */
import type { ChangeFeed } from "../interfaces.js";

export type ChangeListener = (storeId: string, revision: number) => void;

export class LocalChangeFeed implements ChangeFeed {
  /** One entry per subscription, so one function subscribed twice is called twice. */
  private readonly listeners = new Set<{ listener: ChangeListener }>();

  async subscribe(listener: ChangeListener): Promise<() => Promise<void>> {
    const entry = { listener };
    this.listeners.add(entry);
    return async () => {
      this.listeners.delete(entry);
    };
  }

  /** Tells every listener about a committed write. Call only after the commit. */
  publish(storeId: string, revision: number): void {
    for (const entry of [...this.listeners]) {
      // Skips a subscription an earlier listener ended during this round.
      if (!this.listeners.has(entry)) continue;
      try {
        entry.listener(storeId, revision);
      } catch {
        // The write is committed: a failing listener must not make it look failed to the writer.
      }
    }
  }

  /** Drops every subscription (the datastore is closing). */
  clear(): void {
    this.listeners.clear();
  }
}
