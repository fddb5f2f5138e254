/**
 * The proxy's routes from both places they are configured: the access configuration file
 * (read-only here: change the file and restart) and the API, whose routes are documents (one per
 * route id, with versions for optimistic concurrency) shared by every replica through the
 * datastore.
 *
 * Every change is validated as the file's routes are (`parseRoutes`), against the merged set: a
 * route id of the file, or a host and path another route already serves, is a `conflict`. The
 * catalog keeps the merged set in memory and tells listeners whenever it changes — after a change
 * made here, or when a periodic reload finds the documents changed by another replica.
 *
 * Two replicas accepting the same host and path at the same instant could both store it; loading
 * keeps the first (file routes first, then API routes in id order) and reports the other, so the
 * table stays unambiguous and the same on every replica.
 */
import type { ChangeRecorder } from "../audit/change-recorder.js";
import { TenetError } from "../errors.js";
import { formatDuration } from "../policy/jit/duration.js";
import { DocumentConflict, type DocumentRecord, type DocumentsBackend } from "../storage/interfaces.js";
import { parseRoutes, type ProxyRoute, RouteTable } from "./routes.js";

export const ROUTES_COLLECTION = "proxy.routes";

export type RouteSource = "file" | "api";

export interface CatalogRoute {
  route: ProxyRoute;
  source: RouteSource;
  /** The stored document's version (API routes); null for file routes, which have none. */
  version: number | null;
  updatedAt: string | undefined;
}

/** What a document holds: the route as it was put (validated again on every load). */
interface StoredRoute {
  spec: Record<string, unknown>;
}

export type RoutesListener = (routes: ProxyRoute[]) => void | Promise<void>;

export interface RouteCatalogOptions {
  documents: DocumentsBackend;
  /** The access configuration's `proxy.routes`, already validated. */
  fileRoutes: ProxyRoute[];
  /** Every change, in the audit log (OCSF Entity Management), with who made it. */
  changes?: ChangeRecorder | undefined;
  /**
   * Hosts no API route may claim (Tenet's own `host[:port]`): a route there would put the proxy
   * in front of Tenet's API and lock administrators out.
   */
  reservedHosts?: string[] | undefined;
  onProblem?: ((msg: string, err?: unknown) => void) | undefined;
}

const key = (r: ProxyRoute) => `${r.host} ${r.pathPrefix}`;

export class ProxyRouteCatalog {
  private readonly file: CatalogRoute[];
  private stored: CatalogRoute[] = [];
  /** Ids and versions of the stored routes last loaded: a reload that finds the same changes nothing. */
  private signature = "";
  private readonly listeners = new Set<RoutesListener>();
  /** Reloads run one after another, so an older read never replaces a newer one. */
  private queue: Promise<unknown> = Promise.resolve();
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly o: RouteCatalogOptions) {
    this.file = o.fileRoutes.map((route) => ({ route, source: "file", version: null, updatedAt: undefined }));
  }

  /** The merged routes now in force (file routes first). */
  routes(): ProxyRoute[] {
    return [...this.file, ...this.stored].map((c) => c.route);
  }

  /** Called with the merged routes after every change; returns the unsubscribe function. */
  onChange(listener: RoutesListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Every route, file routes first, then API routes in id order (read fresh from the datastore). */
  async list(): Promise<CatalogRoute[]> {
    await this.reload();
    return [...this.file, ...this.stored];
  }

  async get(id: string): Promise<CatalogRoute | undefined> {
    const f = this.file.find((c) => c.route.id === id);
    if (f) return f;
    await this.reload();
    return this.stored.find((c) => c.route.id === id);
  }

  /**
   * Creates or replaces the API route `id` with `input` (a file route's shape; its `id`, when
   * given, must be `id`). `expectedVersion`: 0 = create only; n = replace only version n.
   */
  async put(id: string, input: unknown, expectedVersion?: number): Promise<{ route: CatalogRoute; created: boolean }> {
    if (typeof input !== "object" || input === null || Array.isArray(input)) throw new TenetError("validation_error", "invalid route: the route must be a JSON object");
    const given = (input as Record<string, unknown>).id;
    if (given !== undefined && given !== id) throw new TenetError("validation_error", `invalid route: id: '${String(given)}' is not the id in the path ('${id}')`);
    if (this.file.some((c) => c.route.id === id)) throw new TenetError("conflict", `route ${id} comes from the access configuration file: change it there`);
    const spec = { ...(input as Record<string, unknown>), id };
    const route = parseOne(spec);
    this.checkReserved(route);

    await this.reload();
    const clash = [...this.file, ...this.stored].find((c) => c.route.id !== id && key(c.route) === key(route));
    if (clash) throw new TenetError("conflict", `route ${clash.route.id} (${clash.source === "file" ? "from the configuration file" : "by API"}) already serves ${route.host}${route.pathPrefix}`);

    const current = await this.o.documents.getDocument<StoredRoute>(ROUTES_COLLECTION, id);
    const expected = expectedVersion ?? current?.version ?? 0;
    if (expectedVersion !== undefined && (current?.version ?? 0) !== expectedVersion) throw stale(id, expectedVersion, current?.version);
    let version: number;
    try {
      version = await this.o.documents.putDocument(ROUTES_COLLECTION, id, { spec } satisfies StoredRoute, expected);
    } catch (err) {
      if (err instanceof DocumentConflict) throw stale(id, expected, undefined);
      throw err;
    }
    const created = expected === 0;
    await this.o.changes?.record({
      type: created ? "proxy.route.create" : "proxy.route.update",
      activity: created ? "create" : "update",
      entity: { type: "proxy_route", uid: id, version: String(version) },
      details: summary(route),
    });
    await this.reload();
    const now = this.stored.find((c) => c.route.id === id);
    return { route: now ?? { route, source: "api", version, updatedAt: new Date().toISOString() }, created };
  }

  /** Deletes the API route `id`; `expectedVersion` (when given) must be its current version. */
  async delete(id: string, expectedVersion?: number): Promise<void> {
    if (this.file.some((c) => c.route.id === id)) throw new TenetError("conflict", `route ${id} comes from the access configuration file: remove it there`);
    const current = await this.o.documents.getDocument<StoredRoute>(ROUTES_COLLECTION, id);
    if (!current) throw new TenetError("not_found", `route ${id} does not exist`);
    if (expectedVersion !== undefined && current.version !== expectedVersion) throw stale(id, expectedVersion, current.version);
    if (!(await this.o.documents.deleteDocument(ROUTES_COLLECTION, id))) throw new TenetError("not_found", `route ${id} does not exist`);
    await this.o.changes?.record({ type: "proxy.route.delete", activity: "delete", entity: { type: "proxy_route", uid: id, version: String(current.version) } });
    await this.reload();
  }

  /**
   * Reads the stored routes; when they differ from what is loaded, swaps them in and tells the
   * listeners (awaited: a change returns once the proxy sees it). Resolves to whether they changed.
   */
  reload(): Promise<boolean> {
    const next = this.queue.then(() => this.load());
    this.queue = next.catch(() => undefined);
    return next;
  }

  /** Reloads every `intervalMs` until `stop()`: routes changed on another replica arrive here. */
  start(opts: { intervalMs: number; onError?: (err: unknown) => void }): void {
    if (this.timer) return;
    let busy = false;
    this.timer = setInterval(() => {
      if (busy) return;
      busy = true;
      this.reload()
        .catch((err: unknown) => opts.onError?.(err))
        .finally(() => (busy = false));
    }, opts.intervalMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  private async load(): Promise<boolean> {
    const docs: DocumentRecord<StoredRoute>[] = [];
    for (let after: string | undefined; ; ) {
      const page = await this.o.documents.listDocuments<StoredRoute>(ROUTES_COLLECTION, { ...(after !== undefined ? { after } : {}), limit: 500 });
      docs.push(...page);
      if (page.length < 500) break;
      after = page[page.length - 1]!.id;
    }
    const signature = docs.map((d) => `${d.id}@${d.version}`).join(",");
    if (signature === this.signature) return false;

    const ids = new Set(this.file.map((c) => c.route.id));
    const keys = new Set(this.file.map((c) => key(c.route)));
    const stored: CatalogRoute[] = [];
    for (const d of docs) {
      let route: ProxyRoute;
      try {
        route = parseOne(d.body.spec);
      } catch (err) {
        this.o.onProblem?.(`proxy route ${d.id} (stored) is not valid and is not served: ${(err as Error).message}`);
        continue;
      }
      // A document's id is the route's id: a body that says otherwise was not written here.
      if (route.id !== d.id || ids.has(route.id) || keys.has(key(route))) {
        this.o.onProblem?.(`proxy route ${d.id} (stored) is not served: its id or ${route.host}${route.pathPrefix} is already used by another route`);
        continue;
      }
      ids.add(route.id);
      keys.add(key(route));
      stored.push({ route, source: "api", version: d.version, updatedAt: d.updatedAt });
    }
    this.stored = stored;
    this.signature = signature;
    const routes = this.routes();
    for (const l of this.listeners) {
      try {
        await l(routes);
      } catch (err) {
        this.o.onProblem?.("a listener of proxy route changes failed", err);
      }
    }
    return true;
  }

  private checkReserved(route: ProxyRoute): void {
    // Any path counts: the proxy claims requests by host.
    const table = new RouteTable([{ ...route, pathPrefix: "/" }]);
    for (const h of this.o.reservedHosts ?? []) {
      const host = h.toLowerCase();
      if (table.match(host, "/") || table.match(host.replace(/:\d+$/, ""), "/")) {
        throw new TenetError("validation_error", `invalid route: from.host: ${route.host} is Tenet's own host (its API and sign-in pages), which no route may take`);
      }
    }
  }
}

/** One route, validated as the file's are; errors name the field (`from.host`, `to`, ...). */
function parseOne(spec: unknown): ProxyRoute {
  try {
    return parseRoutes([spec], "route")[0]!;
  } catch (err) {
    if (!(err instanceof TenetError) || err.details.length === 0) throw err;
    const details = err.details.map((d) => ({ where: (d.where ?? "").replace(/^route\.0\.?/, "") || "route", message: d.message }));
    throw new TenetError("validation_error", `invalid route: ${details.map((d) => `${d.where}: ${d.message}`).join("; ")}`, { details });
  }
}

/** Someone else wrote first (or the caller's version is old): re-read, then retry. */
function stale(id: string, expected: number, actual: number | undefined): TenetError {
  if (expected === 0) return new TenetError("conflict", `route ${id} already exists${actual ? ` (version ${actual})` : ""}: pass its version to replace it`);
  const now = actual === undefined ? "it changed" : actual === 0 ? "it does not exist" : `it is at version ${actual}`;
  return new TenetError("conflict", `route ${id} is not at version ${expected} (${now}): read it again before changing it`);
}

/** What the audit log keeps of a route: where it listens, where it sends, what it asks. */
function summary(r: ProxyRoute): Record<string, unknown> {
  return { host: r.host, path: r.pathPrefix, to: r.upstream.href, resource: `${r.resource.type}:${r.resource.id}`, action: r.action, public: r.public, acr: r.acr };
}

/** A route in the shape the configuration file and the API take (so a GET can be PUT back). */
export function routeSpec(r: ProxyRoute): Record<string, unknown> {
  return {
    id: r.id,
    from: { host: r.host, path: r.pathPrefix },
    to: r.upstream.pathname === "/" ? r.upstream.origin : r.upstream.href,
    resource: { ...r.resource },
    action: r.action,
    ...(r.storeId !== undefined ? { storeId: r.storeId } : {}),
    public: r.public,
    ...(r.acr !== undefined ? { acr: r.acr } : {}),
    ...(r.maxAgeSeconds !== undefined ? { maxAge: formatDuration(r.maxAgeSeconds * 1000) } : {}),
    timeout: formatDuration(r.timeoutMs),
    websockets: r.websockets,
    preserveHost: r.preserveHost,
  };
}
