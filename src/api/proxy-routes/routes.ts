/**
 * The proxy's routes by API: list, read, create or replace, and delete the routes the
 * identity-aware proxy (and ext_authz) serve, next to those of the access configuration file
 * (listed too, but read-only). Changes take effect on the next request on every replica within
 * seconds, and are recorded in the audit log. Thin handlers over the route catalog; every route
 * needs the `admin` scope (a route decides what is reachable and how).
 */
import { TenetError } from "../../errors.js";
import { type CatalogRoute, type ProxyRouteCatalog, routeSpec } from "../../enforcement/route-store.js";
import type { Router } from "../route.js";
import * as s from "./schemas.js";

const TAGS = ["Proxy: routes"];

export function routeView(c: CatalogRoute) {
  return { ...routeSpec(c.route), source: c.source, version: c.version, updated_at: c.updatedAt };
}

export function registerProxyRouteRoutes(r: Router, o: { catalog: ProxyRouteCatalog }): void {
  const { catalog } = o;
  r.add({
    method: "GET", url: "/proxy/routes", summary: "List the proxy's routes (from the configuration file and by API)", tags: TAGS, scope: "admin",
    handler: async () => ({ routes: (await catalog.list()).map(routeView) }),
  });
  r.add({
    method: "GET", url: "/proxy/routes/:id", summary: "Get a proxy route", tags: TAGS, scope: "admin", params: s.idParams,
    handler: async ({ params }) => {
      const c = await catalog.get(params.id);
      if (!c) throw new TenetError("not_found", `route ${params.id} does not exist`);
      return routeView(c);
    },
  });
  r.add({
    method: "PUT", url: "/proxy/routes/:id", summary: "Create or replace a proxy route (pass `version` to refuse a stale replace; 0 = create only)", tags: TAGS, scope: "admin", params: s.idParams, body: s.routeBody,
    handler: async ({ params, body, reply }) => {
      const { version, ...route } = body;
      const { route: c, created } = await catalog.put(params.id, route, version);
      reply.code(created ? 201 : 200);
      return routeView(c);
    },
  });
  r.add({
    method: "DELETE", url: "/proxy/routes/:id", summary: "Delete a proxy route made by API (pass `version` to refuse a stale delete)", tags: TAGS, scope: "admin", params: s.idParams, query: s.deleteQuery,
    handler: async ({ params, query, reply }) => {
      await catalog.delete(params.id, query.version);
      reply.code(204);
      return undefined;
    },
  });
}
