/**
 * SCIM error responses (RFC 7644 §3.12): `{"schemas":[Error URN],"status":"400","scimType":...,
 * "detail":...}`, with the status as a string. SCIM clients (Okta, Entra ID) read `status` and
 * `scimType` to decide whether to retry, so every failure under /scim/v2 is shaped so — never
 * Tenet's `{code, message}`. Anything unexpected is a 500 whose details stay in the log.
 */
import { TenetError } from "../../errors.js";
import { isStorageError } from "../../storage/errors.js";
import { ERROR_SCHEMA } from "./schemas.js";

/** RFC 7644 §3.12 Table 9 (the 400 detail codes) plus `uniqueness` (409). */
export type ScimType =
  | "invalidFilter"
  | "tooMany"
  | "uniqueness"
  | "mutability"
  | "invalidSyntax"
  | "invalidPath"
  | "noTarget"
  | "invalidValue"
  | "invalidVers"
  | "sensitive";

export class ScimError extends Error {
  override readonly name = "ScimError";

  constructor(
    readonly status: number,
    readonly scimType: ScimType | undefined,
    readonly detail: string,
  ) {
    super(detail);
  }
}

export const invalidValue = (detail: string) => new ScimError(400, "invalidValue", detail);
export const invalidSyntax = (detail: string) => new ScimError(400, "invalidSyntax", detail);
export const invalidFilter = (detail: string) => new ScimError(400, "invalidFilter", detail);
export const invalidPath = (detail: string) => new ScimError(400, "invalidPath", detail);
export const notFound = (detail: string) => new ScimError(404, undefined, detail);

export interface ScimErrorBody {
  schemas: [string];
  status: string;
  scimType?: ScimType;
  detail: string;
}

export function errorBody(e: ScimError): ScimErrorBody {
  return { schemas: [ERROR_SCHEMA], status: String(e.status), ...(e.scimType ? { scimType: e.scimType } : {}), detail: e.detail };
}

/** Fastify's own client errors (body parsing and limits), by code. */
const FASTIFY: Record<string, (message: string) => ScimError> = {
  FST_ERR_CTP_BODY_TOO_LARGE: () => new ScimError(413, undefined, "request body too large"),
  FST_ERR_CTP_INVALID_MEDIA_TYPE: () => new ScimError(415, undefined, "send the body as application/scim+json (or application/json)"),
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: () => invalidSyntax("the Content-Length does not match the body"),
  FST_ERR_CTP_EMPTY_JSON_BODY: () => invalidSyntax("the body is empty"),
  FST_ERR_CTP_INVALID_JSON_BODY: (m) => invalidSyntax(`the body is not valid JSON: ${m}`),
};

/**
 * The SCIM error for anything a request can fail with; `internal` says it should be logged
 * (its details are not shown to the client).
 */
export function toScimError(err: unknown): { error: ScimError; internal: boolean; retryAfter?: number } {
  if (err instanceof ScimError) return { error: err, internal: err.status >= 500 };
  if (isStorageError(err) && err.code === "unavailable") {
    return { error: new ScimError(503, undefined, "the database is unavailable; retry shortly"), internal: true, retryAfter: 1 };
  }
  if (err instanceof TenetError) {
    switch (err.code) {
      case "unauthenticated":
        return { error: new ScimError(401, undefined, err.message), internal: false };
      case "forbidden":
        return { error: new ScimError(403, undefined, err.message), internal: false };
      case "not_found":
        return { error: notFound(err.message), internal: false };
      // The directory reports taken user names, e-mail addresses, group names and external ids
      // as conflicts (RFC 7644 §3.3: 409 with scimType "uniqueness").
      case "conflict":
        return { error: new ScimError(409, "uniqueness", err.message), internal: false };
      case "rate_limited": {
        const wait = (err as { retryAfter?: number }).retryAfter;
        return { error: new ScimError(429, undefined, err.message), internal: false, ...(wait ? { retryAfter: wait } : {}) };
      }
      case "request_too_large":
        return { error: new ScimError(413, undefined, err.message), internal: false };
      case "unavailable":
      case "audit_unavailable":
        return { error: new ScimError(503, undefined, err.message), internal: false, retryAfter: 1 };
      default:
        if (err.status >= 400 && err.status < 500) return { error: invalidValue(err.message), internal: false };
        return { error: new ScimError(500, undefined, "internal error"), internal: true };
    }
  }
  const e = err as { statusCode?: unknown; code?: unknown; message?: unknown };
  if (typeof e?.statusCode === "number" && e.statusCode >= 400 && e.statusCode < 500) {
    const make = typeof e.code === "string" ? FASTIFY[e.code] : undefined;
    const message = typeof e.message === "string" ? e.message : "bad request";
    return { error: make ? make(message) : new ScimError(e.statusCode, e.statusCode === 400 ? "invalidSyntax" : undefined, message), internal: false };
  }
  return { error: new ScimError(500, undefined, "internal error"), internal: true };
}
