/** The OpenAPI 3.1 document, generated from the zod schemas that validate each route. */
import { z } from "zod";
import type { RegisteredRoute } from "./route.js";

function jsonSchema(s: z.ZodType): unknown {
  try {
    return z.toJSONSchema(s, { unrepresentable: "any", io: "input" });
  } catch {
    return {};
  }
}

export function openApiDocument(routes: RegisteredRoute[]): unknown {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const r of routes) {
    const path = r.url.replace(/:(\w+)/g, "{$1}");
    const parameters: unknown[] = [];
    for (const [where, schema] of [["path", r.params], ["query", r.query]] as const) {
      const js = schema ? (jsonSchema(schema) as { properties?: Record<string, unknown>; required?: string[] }) : undefined;
      for (const [name, p] of Object.entries(js?.properties ?? {})) {
        parameters.push({ name, in: where, required: where === "path" || (js?.required ?? []).includes(name), schema: p });
      }
    }
    const op: Record<string, unknown> = {
      summary: r.summary,
      tags: r.tags,
      parameters,
      responses: { "200": { description: "OK" }, "400": { description: "Invalid request" }, "401": { description: "Missing or invalid credentials" } },
    };
    if (r.scope) op.security = [{ bearer: [r.scope] }];
    if (r.body) op.requestBody = { required: true, content: { "application/json": { schema: jsonSchema(r.body) } } };
    (paths[path] ??= {})[r.method.toLowerCase()] = op;
  }
  return {
    openapi: "3.1.0",
    info: { title: "Tenet API", version: "0.1.0", description: "OpenFGA-compatible and AuthZEN 1.0 decision API" },
    components: { securitySchemes: { bearer: { type: "http", scheme: "bearer", description: "API key (tenet_...) or OIDC access token" } } },
    paths,
  };
}
