/**
 * SCIM 2.0 over HTTP (RFC 7644) under /scim/v2, for an upstream directory (Okta, Entra ID,
 * OneLogin) to provision and deprovision Tenet's users and groups.
 *
 * SCIM has its own media type, error format and query language, so these routes do not use
 * Tenet's Router: they live in their own Fastify plugin scope with their own body parser
 * (`application/scim+json` and `application/json`), error handler (SCIM errors only), not-found
 * handler and an onRequest hook that authenticates every request (the caller passes a check that
 * requires an API key with the `admin` scope; TenetErrors `unauthenticated` → 401, `forbidden` →
 * 403). Changes run with the caller as the audit actor, as Router routes do.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { withActor } from "../../audit/actor.js";
import type { Directory } from "../../identity/accounts/directory.js";
import { parseScimJson } from "./body.js";
import { ScimError, errorBody, notFound, toScimError } from "./errors.js";
import { etag, tagMatches } from "./etag.js";
import { ScimGroups } from "./groups.js";
import { DEFAULT_MAX_RESULTS, listQuery, listResponse, projectionOf } from "./list.js";
import type { Links } from "./mapping.js";
import { GROUP, USER, resourceTypes, schemaDocuments, serviceProviderConfig } from "./schemas.js";
import { ScimUsers } from "./users.js";

export const SCIM_PREFIX = "/scim/v2";
const SCIM_CONTENT_TYPE = "application/scim+json; charset=utf-8";

export interface ScimDeps {
  directory: Directory;
  /** Throws (TenetError `unauthenticated`/`forbidden`) unless the caller may provision. */
  authenticate: (req: FastifyRequest) => Promise<void> | void;
  /**
   * The public URL of this SCIM service (`https://id.example.com/scim/v2`), for `meta.location`
   * and `$ref`s; by default it is built from the request's scheme and Host header.
   */
  publicUrl?: string | undefined;
  /** The largest page (`count`) a list returns; default 200. */
  maxResults?: number | undefined;
}

type Req = FastifyRequest<{ Params: { id: string }; Querystring: Record<string, unknown> }>;

function actorOf(req: FastifyRequest): string {
  const p = (req as { principal?: { kind?: string; id?: string } }).principal;
  return p?.kind && p.id ? `${p.kind}:${p.id}` : "anonymous";
}

function header(req: FastifyRequest, name: string): string | undefined {
  const v = req.headers[name];
  return Array.isArray(v) ? v.join(", ") : v;
}

/** Registers the SCIM routes in their own plugin scope under /scim/v2. */
export function registerScimRoutes(app: FastifyInstance, deps: ScimDeps): void {
  const maxResults = deps.maxResults ?? DEFAULT_MAX_RESULTS;
  const users = new ScimUsers(deps.directory);
  const groups = new ScimGroups(deps.directory);
  const publicUrl = deps.publicUrl?.replace(/\/+$/, "");
  const links = (req: FastifyRequest): Links => ({ base: publicUrl ?? `${req.protocol}://${req.host || "localhost"}${SCIM_PREFIX}` });

  app.register(
    async (scope) => {
      scope.removeAllContentTypeParsers();
      scope.addContentTypeParser(["application/scim+json", "application/json"], { parseAs: "string" }, (_req, body, done) => {
        try {
          done(null, parseScimJson(body as string));
        } catch (err) {
          done(err as Error, undefined);
        }
      });

      scope.addHook("onRequest", async (req) => {
        await deps.authenticate(req);
      });
      scope.addHook("onSend", (_req, reply, payload, done) => {
        if (payload !== undefined && payload !== null && payload !== "") reply.header("content-type", SCIM_CONTENT_TYPE);
        done(null, payload);
      });
      scope.setErrorHandler((err, req, reply) => {
        const { error, internal, retryAfter } = toScimError(err);
        if (internal) req.log.error({ err }, "SCIM request failed");
        if (retryAfter) reply.header("retry-after", String(retryAfter));
        if (error.status === 401) reply.header("www-authenticate", 'Bearer realm="tenet"');
        reply.code(error.status).send(errorBody(error));
      });
      scope.setNotFoundHandler((req, reply) => {
        reply.code(404).send(errorBody(notFound(`no SCIM endpoint ${req.method} ${req.url.split("?")[0]}`)));
      });

      const change = <T>(req: FastifyRequest, fn: () => Promise<T>): Promise<T> => withActor(actorOf(req), fn);
      const sendResource = (reply: FastifyReply, version: number, resource: unknown, status = 200) => {
        reply.code(status).header("etag", etag(version));
        return resource;
      };

      // ---- Users ----

      scope.get("/Users", async (req: Req) => users.list(listQuery(req.query, USER, maxResults), links(req)));
      scope.post("/Users", async (req: Req, reply) =>
        change(req, async () => {
          const u = await users.create(req.body);
          const l = links(req);
          reply.header("location", `${l.base}/Users/${encodeURIComponent(u.id)}`);
          return sendResource(reply, u.version, await users.resource(u, l, projectionOf(req.query, USER)), 201);
        }),
      );
      scope.get("/Users/:id", async (req: Req, reply) => {
        const u = await users.get(req.params.id);
        const inm = header(req, "if-none-match");
        if (inm !== undefined && tagMatches(inm, u.version)) return reply.code(304).header("etag", etag(u.version)).send();
        return sendResource(reply, u.version, await users.resource(u, links(req), projectionOf(req.query, USER)));
      });
      scope.put("/Users/:id", async (req: Req, reply) =>
        change(req, async () => {
          const u = await users.replace(req.params.id, req.body, header(req, "if-match"));
          return sendResource(reply, u.version, await users.resource(u, links(req), projectionOf(req.query, USER)));
        }),
      );
      scope.patch("/Users/:id", async (req: Req, reply) =>
        change(req, async () => {
          const l = links(req);
          const u = await users.patch(req.params.id, req.body, header(req, "if-match"), l);
          return sendResource(reply, u.version, await users.resource(u, l, projectionOf(req.query, USER)));
        }),
      );
      scope.delete("/Users/:id", async (req: Req, reply) =>
        change(req, async () => {
          await users.remove(req.params.id, header(req, "if-match"));
          return reply.code(204).send();
        }),
      );

      // ---- Groups ----

      scope.get("/Groups", async (req: Req) => groups.list(listQuery(req.query, GROUP, maxResults), links(req)));
      scope.post("/Groups", async (req: Req, reply) =>
        change(req, async () => {
          const g = await groups.create(req.body);
          const l = links(req);
          reply.header("location", `${l.base}/Groups/${encodeURIComponent(g.id)}`);
          return sendResource(reply, g.version, await groups.resource(g, l, projectionOf(req.query, GROUP)), 201);
        }),
      );
      scope.get("/Groups/:id", async (req: Req, reply) => {
        const g = await groups.get(req.params.id);
        const inm = header(req, "if-none-match");
        if (inm !== undefined && tagMatches(inm, g.version)) return reply.code(304).header("etag", etag(g.version)).send();
        return sendResource(reply, g.version, await groups.resource(g, links(req), projectionOf(req.query, GROUP)));
      });
      scope.put("/Groups/:id", async (req: Req, reply) =>
        change(req, async () => {
          const g = await groups.replace(req.params.id, req.body, header(req, "if-match"));
          return sendResource(reply, g.version, await groups.resource(g, links(req), projectionOf(req.query, GROUP)));
        }),
      );
      scope.patch("/Groups/:id", async (req: Req, reply) =>
        change(req, async () => {
          const l = links(req);
          const g = await groups.patch(req.params.id, req.body, header(req, "if-match"), l);
          return sendResource(reply, g.version, await groups.resource(g, l, projectionOf(req.query, GROUP)));
        }),
      );
      scope.delete("/Groups/:id", async (req: Req, reply) =>
        change(req, async () => {
          await groups.remove(req.params.id, header(req, "if-match"));
          return reply.code(204).send();
        }),
      );

      // ---- discovery (RFC 7644 §4) ----

      // §4: a filter on the discovery endpoints SHOULD be answered with 403.
      const noFilter = (req: Req) => {
        if (req.query.filter !== undefined) throw new ScimError(403, undefined, "discovery endpoints do not support filtering");
      };
      scope.get("/ServiceProviderConfig", async (req: Req) => {
        noFilter(req);
        return serviceProviderConfig(links(req).base, maxResults);
      });
      scope.get("/ResourceTypes", async (req: Req) => {
        noFilter(req);
        const all = resourceTypes(links(req).base);
        return listResponse(all, all.length, 1);
      });
      scope.get("/ResourceTypes/:id", async (req: Req) => {
        const t = resourceTypes(links(req).base).find((x) => x.id === req.params.id);
        if (!t) throw notFound(`no resource type ${req.params.id}`);
        return t;
      });
      scope.get("/Schemas", async (req: Req) => {
        noFilter(req);
        const all = schemaDocuments(links(req).base);
        return listResponse(all, all.length, 1);
      });
      scope.get("/Schemas/:id", async (req: Req) => {
        const s = schemaDocuments(links(req).base).find((x) => x.id === req.params.id);
        if (!s) throw notFound(`no schema ${req.params.id}`);
        return s;
      });
    },
    { prefix: SCIM_PREFIX },
  );
}
