/**
 * A bounded map whose entries expire: least recently used entries are dropped beyond `maxEntries`
 * and an entry is not returned after its deadline. Used for the enforcement point's short-lived
 * caches (identities behind access tokens), where a stale entry must never outlive its deadline
 * and memory must stay flat whatever the number of distinct keys.
 */
export class TtlCache<K, V> {
  // Map keeps insertion order: re-inserting on use makes the first key the least recently used.
  private readonly entries = new Map<K, { value: V; until: number }>();

  constructor(
    private readonly maxEntries: number,
    private readonly now: () => number = Date.now,
  ) {
    if (!Number.isInteger(maxEntries) || maxEntries < 1) throw new TypeError("maxEntries must be a positive whole number");
  }

  get(key: K): V | undefined {
    const e = this.entries.get(key);
    if (!e) return undefined;
    this.entries.delete(key);
    if (e.until <= this.now()) return undefined;
    this.entries.set(key, e);
    return e.value;
  }

  /** Keeps `value` until `until` (milliseconds since the epoch); a deadline already past stores nothing. */
  set(key: K, value: V, until: number): void {
    this.entries.delete(key);
    if (!(until > this.now())) return;
    this.entries.set(key, { value, until });
    while (this.entries.size > this.maxEntries) {
      const oldest = this.entries.keys().next();
      if (oldest.done) break;
      this.entries.delete(oldest.value);
    }
  }

  delete(key: K): void {
    this.entries.delete(key);
  }

  /** Drops every entry whose value matches (e.g. everything cached for one user). */
  deleteWhere(match: (value: V, key: K) => boolean): number {
    let n = 0;
    for (const [k, e] of this.entries) {
      if (match(e.value, k)) {
        this.entries.delete(k);
        n++;
      }
    }
    return n;
  }

  clear(): void {
    this.entries.clear();
  }

  get size(): number {
    return this.entries.size;
  }
}
