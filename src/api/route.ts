/**
 * Routes are declared with zod schemas for params, query and body. The same schemas validate
 * requests (strictly: unknown fields are refused) and generate the OpenAPI document.
 */
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest, HookHandlerDoneFunction } from "fastify";
import { z } from "zod";
import { TenetError } from "../errors.js";
import type { Scope } from "../identity/api-keys/api-key.js";
import type { Authenticator } from "./auth/authenticator.js";
import type { DecisionLane, LaneReply, LaneRequest, ResponseObserver } from "./lane.js";
import { withActor } from "../audit/actor.js";

/** `api_key:<id>` or `jwt:<sub>`: the acting principal as audit records name it. */
function actorOf(req: LaneRequest): string {
  const p = req.principal;
  return p ? `${p.kind}:${p.id}` : "anonymous";
}

export interface RouteSpec<P extends z.ZodType, Q extends z.ZodType, B extends z.ZodType> {
  method: "GET" | "POST" | "PUT" | "DELETE";
  url: string;
  summary: string;
  tags: string[];
  params?: P;
  query?: Q;
  body?: B;
  /** Scope the caller's credentials need (checked by the auth hook); undefined = public. */
  scope?: "check" | "read" | "write" | "admin";
  /**
   * Hand-written equivalents of `params` and `body` for their common shapes (the hottest
   * routes): each returns what the schema's parse would, or undefined to leave the input to zod.
   */
  fast?: { params?: (value: unknown) => z.infer<P> | undefined; body?: (value: unknown) => z.infer<B> | undefined };
  /**
   * JSON schema of the 200 response, for Fastify's compiled serialiser (faster than
   * JSON.stringify). It must name every field the handler returns: others would be dropped.
   */
  response?: Record<string, unknown>;
  /**
   * Serve this route on the decision lane too (lane.ts): for the hot decision routes, which must
   * be POST routes without a query schema.
   */
  lane?: boolean;
  /**
   * Handlers see only what a Fastify request and the decision lane's request share: the request
   * id, headers, path parameters, logger and the authenticated principal.
   */
  handler: (
    input: { params: z.infer<P>; query: z.infer<Q>; body: z.infer<B>; req: LaneRequest; reply: LaneReply },
  ) => Promise<unknown>;
}

export interface RegisteredRoute {
  method: string;
  url: string;
  summary: string;
  tags: string[];
  scope: string | undefined;
  params: z.ZodType | undefined;
  query: z.ZodType | undefined;
  body: z.ZodType | undefined;
}

function parse<T extends z.ZodType>(schema: T | undefined, value: unknown, where: string): z.infer<T> {
  if (!schema) return undefined as z.infer<T>;
  const r = schema.safeParse(value ?? (where === "body" ? {} : value));
  if (!r.success) {
    const details = r.error.issues.map((i) => ({ where: [where, ...i.path.map(String)].join("."), message: i.message }));
    throw new TenetError("validation_error", `invalid request: ${details.map((d) => `${d.where}: ${d.message}`).join("; ")}`, { details });
  }
  return r.data;
}

export const MAX_NESTING = 64;

/** Iterative (so it cannot overflow itself): does `value` nest deeper than `max`? */
export function nestingDepthExceeds(value: unknown, max: number): boolean {
  const stack: Array<[unknown, number]> = [[value, 0]];
  while (stack.length > 0) {
    const [v, d] = stack.pop()!;
    if (typeof v !== "object" || v === null) continue;
    if (d >= max) return true;
    for (const child of Array.isArray(v) ? v : Object.values(v)) {
      if (typeof child === "object" && child !== null) stack.push([child, d + 1]);
    }
  }
  return false;
}

/**
 * The route-level onRequest hook of a route that needs `scope`: authenticates the caller (a
 * callback hook, so that a cached API key costs no promise) and records the principal.
 */
function authHook(auth: Authenticator, scope: Scope) {
  return (req: FastifyRequest, _reply: FastifyReply, done: HookHandlerDoneFunction): void => {
    let principal: ReturnType<Authenticator["authenticate"]>;
    try {
      principal = auth.authenticate(req, scope);
    } catch (err) {
      done(err as FastifyError);
      return;
    }
    if (principal instanceof Promise) {
      principal.then(
        (p) => {
          req.principal = p;
          done();
        },
        (err: unknown) => done(err as FastifyError),
      );
    } else {
      req.principal = principal;
      done();
    }
  };
}

export class Router {
  readonly routes: RegisteredRoute[] = [];

  constructor(
    private readonly app: FastifyInstance,
    private readonly auth: Authenticator,
    private readonly lane?: DecisionLane,
  ) {}

  /** Calls `observer` after every response, whichever path (Fastify or the lane) answered it. */
  onResponse(observer: ResponseObserver): void {
    this.app.addHook("onResponse", (req, reply, done) => {
      observer(req.routeOptions.url ?? "unmatched", req.method, reply.statusCode, reply.elapsedTime / 1000, reply.tenetDecision);
      done();
    });
    this.lane?.observe(observer);
  }

  add<P extends z.ZodType, Q extends z.ZodType, B extends z.ZodType>(spec: RouteSpec<P, Q, B>): void {
    this.routes.push({
      method: spec.method,
      url: spec.url,
      summary: spec.summary,
      tags: spec.tags,
      scope: spec.scope,
      params: spec.params,
      query: spec.query,
      body: spec.body,
    });
    const fastParamsParse = spec.params ? spec.fast?.params : undefined;
    const fastBodyParse = spec.body ? spec.fast?.body : undefined;
    const run = (rawParams: unknown, rawQuery: unknown, rawBody: unknown, req: LaneRequest, reply: LaneReply): Promise<unknown> => {
      // A body the fast path accepts has the shallow shape of a valid request.
      const fastBody = fastBodyParse?.(rawBody);
      // Bodies nested deeper than any real request would overflow the stack of recursive
      // code downstream (JSON.stringify, CEL conversion): refuse them at the boundary.
      if (fastBody === undefined && rawBody !== undefined && nestingDepthExceeds(rawBody, MAX_NESTING)) {
        throw new TenetError("validation_error", `invalid request: body is nested more than ${MAX_NESTING} levels deep`);
      }
      const params = fastParamsParse?.(rawParams) ?? parse(spec.params, rawParams, "path");
      const query = parse(spec.query, rawQuery, "query");
      const body = fastBody ?? parse(spec.body, rawBody, "body");
      // Changes are recorded in the audit log with who made them.
      if (spec.method !== "GET" && !spec.lane) return withActor(actorOf(req), () => spec.handler({ params, query, body, req, reply }));
      return spec.handler({ params, query, body, req, reply });
    };
    if (spec.lane && this.lane) {
      if (spec.method !== "POST" || spec.query) throw new Error(`lane route ${spec.url} must be a POST route without a query`);
      const auth = this.auth;
      const scope = spec.scope;
      this.lane.add({
        url: spec.url,
        authenticate: (req) => {
          if (!scope) return;
          const p = auth.authenticate(req, scope);
          if (!(p instanceof Promise)) {
            req.principal = p;
            return;
          }
          return p.then((principal) => {
            req.principal = principal;
          });
        },
        // Not async: a validation error thrown synchronously is handled as a rejection would be.
        run: (req, reply, body) => run(req.params, undefined, body, req, reply),
      });
    }
    this.app.route({
      method: spec.method,
      url: spec.url,
      config: { scope: spec.scope, routeUrl: spec.url },
      ...(spec.response ? { schema: { response: { 200: spec.response } } } : {}),
      // After the server's own onRequest hooks (Fastify runs route-level hooks last).
      ...(spec.scope ? { onRequest: authHook(this.auth, spec.scope) } : {}),
      // Not async: the handler's own promise goes to Fastify as it is, and a validation error
      // thrown here reaches the error handler just as a rejection would.
      handler: (req, reply) => run(req.params, req.query, req.body, req as unknown as LaneRequest, reply),
    });
  }
}
