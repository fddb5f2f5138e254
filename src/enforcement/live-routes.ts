/**
 * The route table the proxy and ext_authz match against, replaceable while they run: routes put
 * or deleted by API (on this replica or another) take effect on the next request, without a
 * restart. The new table is built in full before it is swapped in, so a request matches against
 * either the old routes or the new ones, never a mixture.
 */
import { type ProxyRoute, RouteTable } from "./routes.js";

export class LiveRoutes {
  private table: RouteTable;

  constructor(routes: ProxyRoute[]) {
    this.table = new RouteTable(routes);
  }

  replace(routes: ProxyRoute[]): void {
    this.table = new RouteTable(routes);
  }

  match(host: string, path: string): ProxyRoute | undefined {
    return this.table.match(host, path);
  }
}
