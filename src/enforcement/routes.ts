/**
 * The proxy's routes: which host and path prefix go to which upstream, and what the decision
 * point is asked about each request on them. Read from the access configuration's `proxy.routes`
 * (or the API), validated once; matching is host first (exact, then `*.` wildcard), then the
 * longest path prefix on a segment boundary (`/app` matches `/app` and `/app/x`, not `/apple`).
 *
 *   proxy:
 *     routes:
 *       - id: grafana
 *         from: { host: grafana.example.com, path: / }
 *         to: http://127.0.0.1:3000
 *         resource: { type: app, id: grafana }       # what decisions are about
 *         action: access                            # the relation / action asked (default: access)
 *         storeId: 01HX...                          # the decision point's store
 *         timeout: 30s
 *         websockets: true
 *       - id: admin-api
 *         from: { host: api.example.com, path: /admin }
 *         to: http://10.0.0.5:8080
 *         resource: { type: api, id: admin }
 *         acr: hardware                             # step-up before any decision
 *         maxAge: 15m
 */
import { z } from "zod";
import { TenetError } from "../errors.js";
import { parseDuration } from "../policy/jit/duration.js";

const ID = /^[a-z0-9][a-z0-9_-]{0,62}$/;
const HOST = /^(\*\.)?(?=.{1,253}$)([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)(\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*(:\d{1,5})?$/;

const duration = z.string().refine((s) => {
  try {
    parseDuration(s);
    return true;
  } catch {
    return false;
  }
}, "must be a duration such as '30s', '5m'");

const routeSchema = z.strictObject({
  id: z.string().regex(ID, "lower-case letters, digits, '_' and '-' (at most 63)"),
  from: z.strictObject({
    host: z
      .string()
      .transform((h) => h.toLowerCase().replace(/\.$/, ""))
      .refine((h) => HOST.test(h), "must be a host name such as app.example.com or *.example.com (optionally with :port)"),
    path: z
      .string()
      .default("/")
      .refine((p) => p.startsWith("/") && !p.includes("..") && !p.includes("//") && !/[\s%\\?#]/.test(p), "must be a plain path prefix such as / or /app"),
  }),
  to: z
    .string()
    .refine((u) => {
      try {
        const url = new URL(u);
        return (url.protocol === "http:" || url.protocol === "https:") && !url.username && !url.password && !url.search && !url.hash;
      } catch {
        return false;
      }
    }, "must be an http(s) URL without credentials, query or fragment"),
  resource: z.strictObject({ type: z.string().min(1).max(64), id: z.string().min(1).max(256) }),
  action: z.string().min(1).max(64).default("access"),
  storeId: z.string().min(1).max(64).optional(),
  /** Anyone, signed in or not, without a decision: health checks, static assets. Say so on purpose. */
  public: z.boolean().default(false),
  acr: z.string().min(1).max(200).optional(),
  maxAge: duration.optional(),
  timeout: duration.default("30s"),
  websockets: z.boolean().default(false),
  /** Send the client's Host to the upstream instead of the upstream's own. */
  preserveHost: z.boolean().default(false),
});

export interface ProxyRoute {
  id: string;
  host: string;
  /** Wildcard host (`*.example.com`): the suffix including the dot. */
  hostSuffix: string | undefined;
  pathPrefix: string;
  upstream: URL;
  resource: { type: string; id: string };
  action: string;
  storeId: string | undefined;
  public: boolean;
  acr: string | undefined;
  maxAgeSeconds: number | undefined;
  timeoutMs: number;
  websockets: boolean;
  preserveHost: boolean;
}

/** Validates routes; throws `validation_error` naming every wrong field. */
export function parseRoutes(raw: unknown, at = "proxy.routes"): ProxyRoute[] {
  const r = z.array(routeSchema).max(10_000).safeParse(raw ?? []);
  if (!r.success) {
    const details = r.error.issues.map((i) => ({ where: [at, ...i.path.map(String)].join("."), message: i.message }));
    throw new TenetError("validation_error", `invalid proxy routes: ${details.map((d) => `${d.where}: ${d.message}`).join("; ")}`, { details });
  }
  const seen = new Set<string>();
  const routes = r.data.map((x): ProxyRoute => {
    if (seen.has(x.id)) throw new TenetError("validation_error", `invalid proxy routes: ${at}: route id '${x.id}' is used twice`);
    seen.add(x.id);
    const wildcard = x.from.host.startsWith("*.");
    const prefix = x.from.path.length > 1 ? x.from.path.replace(/\/+$/, "") : "/";
    return {
      id: x.id,
      host: x.from.host,
      hostSuffix: wildcard ? x.from.host.slice(1) : undefined,
      pathPrefix: prefix,
      upstream: new URL(x.to),
      resource: x.resource,
      action: x.action,
      storeId: x.storeId,
      public: x.public,
      acr: x.acr,
      maxAgeSeconds: x.maxAge === undefined ? undefined : Math.round(parseDuration(x.maxAge) / 1000),
      timeoutMs: parseDuration(x.timeout),
      websockets: x.websockets,
      preserveHost: x.preserveHost,
    };
  });
  const keys = new Set<string>();
  for (const rt of routes) {
    const k = `${rt.host} ${rt.pathPrefix}`;
    if (keys.has(k)) throw new TenetError("validation_error", `invalid proxy routes: ${at}: two routes for ${rt.host}${rt.pathPrefix}`);
    keys.add(k);
  }
  return routes;
}

/** Finds the route of a normalised host and path; undefined when none (the proxy answers 404). */
export class RouteTable {
  private readonly exact = new Map<string, ProxyRoute[]>();
  private readonly wildcard: ProxyRoute[] = [];

  constructor(routes: ProxyRoute[]) {
    for (const r of routes) {
      if (r.hostSuffix) this.wildcard.push(r);
      else (this.exact.get(r.host) ?? this.exact.set(r.host, []).get(r.host)!).push(r);
    }
    // Longest prefix first; for wildcards, the most specific suffix first.
    for (const list of this.exact.values()) list.sort((a, b) => b.pathPrefix.length - a.pathPrefix.length);
    this.wildcard.sort((a, b) => b.hostSuffix!.length - a.hostSuffix!.length || b.pathPrefix.length - a.pathPrefix.length);
  }

  match(host: string, path: string): ProxyRoute | undefined {
    const byPrefix = (r: ProxyRoute) => r.pathPrefix === "/" || path === r.pathPrefix || path.startsWith(`${r.pathPrefix}/`);
    const exact = this.exact.get(host)?.find(byPrefix);
    if (exact) return exact;
    const bare = host.replace(/:\d+$/, "");
    const portless = bare !== host ? this.exact.get(bare)?.find(byPrefix) : undefined;
    if (portless) return portless;
    return this.wildcard.find((r) => {
      const h = r.hostSuffix!.includes(":") ? host : bare;
      // `*.example.com` matches one label or more below example.com, never example.com itself.
      return h.endsWith(r.hostSuffix!) && h.length > r.hostSuffix!.length && byPrefix(r);
    });
  }
}
