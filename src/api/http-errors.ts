/**
 * The one place errors become HTTP responses. TenetErrors keep their status and get OpenFGA's
 * error body (`{ code, message }` with OpenFGA's code names, so its SDKs recognise them);
 * anything else is a 500 whose details stay in the log, never in the response.
 */
import { TenetError, type TenetErrorCode } from "../errors.js";
import { isStorageError } from "../storage/errors.js";

/** OpenFGA's error code names (openfga/api ErrorCode, NotFoundErrorCode, InternalErrorCode). */
const OPENFGA_NAMES: Partial<Record<TenetErrorCode, string>> = {
  validation_error: "validation_error",
  invalid_model: "validation_error",
  invalid_dsl: "validation_error",
  invalid_condition: "validation_error",
  invalid_context: "validation_error",
  condition_missing_parameters: "validation_error",
  condition_evaluation_error: "validation_error",
  invalid_tuple: "invalid_tuple",
  type_not_found: "type_not_found",
  relation_not_found: "relation_not_found",
  model_not_found: "authorization_model_not_found",
  latest_model_not_found: "latest_authorization_model_not_found",
  invalid_consistency_token: "validation_error",
  store_not_found: "store_id_not_found",
  resolution_too_complex: "authorization_model_resolution_too_complex",
  write_conflict: "write_failed_due_to_invalid_input",
  cannot_delete_missing_tuple: "write_failed_due_to_invalid_input",
  duplicate_tuple_in_write: "cannot_allow_duplicate_tuples_in_one_request",
};

/** The OpenFGA error name for a Tenet error code (its own name when OpenFGA has none). */
export function openfgaName(code: TenetErrorCode): string {
  return OPENFGA_NAMES[code] ?? code;
}

export interface ErrorBody {
  code: string;
  message: string;
  /** Tenet's own stable code, when it differs from OpenFGA's name. */
  tenet_code?: string;
}

export function errorResponse(err: unknown): { status: number; body: ErrorBody; internal: boolean; retryAfter?: number } {
  // The database is unreachable: deny with a retryable 503 (never answer from guesswork).
  if (isStorageError(err) && err.code === "unavailable") {
    return { status: 503, body: { code: "unavailable", message: "the database is unavailable; retry shortly" }, internal: true, retryAfter: 1 };
  }
  if (err instanceof TenetError) {
    const code = OPENFGA_NAMES[err.code] ?? err.code;
    const body: ErrorBody = { code, message: err.message };
    if (code !== err.code) body.tenet_code = err.code;
    if (err.code === "unavailable") return { status: 503, body, internal: false, retryAfter: 1 };
    return { status: err.status, body, internal: err.status >= 500 };
  }
  const e = err as { statusCode?: number; code?: string; message?: string };
  // Fastify's own client errors (bad JSON, body too large, unsupported media type).
  if (typeof e?.statusCode === "number" && e.statusCode >= 400 && e.statusCode < 500) {
    const code =
      e.statusCode === 413 ? "request_too_large" : e.statusCode === 415 ? "unsupported_media_type" : e.code === "FST_ERR_CTP_INVALID_JSON_BODY" || e.code === "FST_ERR_CTP_EMPTY_JSON_BODY" ? "invalid_json" : "validation_error";
    return { status: e.statusCode, body: { code, message: e.message ?? "bad request" }, internal: false };
  }
  return { status: 500, body: { code: "internal_error", message: "internal error" }, internal: true };
}
