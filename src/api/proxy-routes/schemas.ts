/**
 * Request schemas of the proxy routes API (strict: unknown fields are refused). The body is a
 * route as the access configuration file writes it; these schemas check its shape (and document
 * it in the OpenAPI description), and the route catalog checks its values as the file's routes
 * are checked (`parseRoutes`), with messages naming the field.
 */
import { z } from "zod";

export const idParams = z.strictObject({ id: z.string().min(1).max(63) });

export const routeBody = z.strictObject({
  /** Optional: when given, it must be the id in the path. */
  id: z.string().max(63).optional(),
  /** The version being replaced (0 = create only); without it, create or replace whatever is there. */
  version: z.number().int().min(0).optional(),
  from: z.strictObject({ host: z.string().max(300), path: z.string().max(2048).optional() }),
  to: z.string().max(2048),
  resource: z.strictObject({ type: z.string().max(64), id: z.string().max(256) }),
  action: z.string().max(64).optional(),
  storeId: z.string().max(64).optional(),
  public: z.boolean().optional(),
  acr: z.string().max(200).optional(),
  maxAge: z.string().max(32).optional(),
  timeout: z.string().max(32).optional(),
  websockets: z.boolean().optional(),
  preserveHost: z.boolean().optional(),
});

export const deleteQuery = z.strictObject({ version: z.coerce.number().int().min(1).optional() });
