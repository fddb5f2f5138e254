/**
 * The grants in force, in memory, per store: what the decision path asks without a promise.
 * Loaded from storage (`jit-grants`) and kept current by this process's own changes; changes
 * made by other replicas arrive with the next load (JitService.refresh).
 */
import type { ActiveGrant } from "./types.js";

type Op = { set: ActiveGrant } | { remove: string };

const keyOf = (subject: string, resource: string, action: string) => `${subject}\u0000${resource}\u0000${action}`;

export class GrantIndex {
  private readonly stores = new Map<string, Map<string, ActiveGrant[]>>();
  /** Changes made while a load is in flight, replayed onto its result (the load may predate them). */
  private readonly loading = new Map<string, Set<Op[]>>();

  isLoaded(storeId: string): boolean {
    return this.stores.has(storeId);
  }

  loadedStores(): string[] {
    return [...this.stores.keys()];
  }

  /** Replaces the store's grants with what `fetch` returns. */
  async load(storeId: string, fetch: () => Promise<ActiveGrant[]>): Promise<void> {
    const log: Op[] = [];
    let logs = this.loading.get(storeId);
    if (!logs) this.loading.set(storeId, (logs = new Set()));
    logs.add(log);
    try {
      const map = new Map<string, ActiveGrant[]>();
      for (const g of await fetch()) put(map, g);
      for (const op of log) apply(map, op);
      this.stores.set(storeId, map);
    } finally {
      logs.delete(log);
      if (logs.size === 0) this.loading.delete(storeId);
    }
  }

  set(g: ActiveGrant): void {
    this.change(g.storeId, { set: g });
  }

  remove(storeId: string, id: string): void {
    this.change(storeId, { remove: id });
  }

  /**
   * The grant covering `now`: an ActiveGrant, null when there is none, undefined when the store
   * is not loaded (ask again after a load).
   */
  find(storeId: string, subject: string, resource: string, action: string, now: number): ActiveGrant | null | undefined {
    const map = this.stores.get(storeId);
    if (!map) return undefined;
    const list = map.get(keyOf(subject, resource, action));
    if (!list) return null;
    let best: ActiveGrant | null = null;
    for (const g of list) {
      if (Date.parse(g.grantedAt) <= now && now < Date.parse(g.expiresAt) && (!best || g.expiresAt > best.expiresAt)) best = g;
    }
    return best;
  }

  private change(storeId: string, op: Op): void {
    const map = this.stores.get(storeId);
    if (map) apply(map, op);
    for (const log of this.loading.get(storeId) ?? []) log.push(op);
  }
}

function put(map: Map<string, ActiveGrant[]>, g: ActiveGrant): void {
  const k = keyOf(g.requester, g.resource, g.action);
  const list = (map.get(k) ?? []).filter((x) => x.id !== g.id);
  list.push(g);
  map.set(k, list);
}

function apply(map: Map<string, ActiveGrant[]>, op: Op): void {
  if ("set" in op) {
    put(map, op.set);
    return;
  }
  for (const [k, list] of map) {
    const rest = list.filter((g) => g.id !== op.remove);
    if (rest.length === list.length) continue;
    if (rest.length === 0) map.delete(k);
    else map.set(k, rest);
    return;
  }
}
