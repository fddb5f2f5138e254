/**
 * Routes are declared with zod schemas for params, query and body. The same schemas validate
 * requests (strictly: unknown fields are refused) and generate the OpenAPI document.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { z } from "zod";
import { TenetError } from "../errors.js";

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
  handler: (
    input: { params: z.infer<P>; query: z.infer<Q>; body: z.infer<B>; req: FastifyRequest; reply: FastifyReply },
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

export class Router {
  readonly routes: RegisteredRoute[] = [];

  constructor(private readonly app: FastifyInstance) {}

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
    this.app.route({
      method: spec.method,
      url: spec.url,
      config: { scope: spec.scope, routeUrl: spec.url },
      handler: async (req, reply) => {
        // Bodies nested deeper than any real request would overflow the stack of recursive
        // code downstream (JSON.stringify, CEL conversion): refuse them at the boundary.
        if (req.body !== undefined && nestingDepthExceeds(req.body, MAX_NESTING)) {
          throw new TenetError("validation_error", `invalid request: body is nested more than ${MAX_NESTING} levels deep`);
        }
        const params = parse(spec.params, req.params, "path");
        const query = parse(spec.query, req.query, "query");
        const body = parse(spec.body, req.body, "body");
        return spec.handler({ params, query, body, req, reply });
      },
    });
  }
}
