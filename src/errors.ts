/**
 * One error type for the whole code base. Every error carries a stable literal `code` (callers
 * switch on it), an HTTP `status` (only the API layer turns it into a response) and, where
 * OpenFGA defines one, its numeric error code so OpenFGA clients see what they expect.
 */
export type TenetErrorCode =
  | "validation_error"
  | "invalid_model"
  | "invalid_dsl"
  | "invalid_condition"
  | "invalid_tuple"
  | "invalid_context"
  | "condition_missing_parameters"
  | "condition_evaluation_error"
  | "type_not_found"
  | "relation_not_found"
  | "model_not_found"
  | "latest_model_not_found"
  | "invalid_consistency_token"
  | "store_not_found"
  | "resolution_too_complex"
  | "request_too_large"
  | "write_conflict"
  | "cannot_delete_missing_tuple"
  | "duplicate_tuple_in_write"
  | "not_found"
  | "conflict"
  | "unauthenticated"
  | "forbidden"
  | "rate_limited"
  | "unavailable"
  | "audit_unavailable"
  | "internal_error";

/** OpenFGA's numeric codes (openfga/api errors.proto) for the errors that have one. */
const OPENFGA_CODES: Partial<Record<TenetErrorCode, number>> = {
  validation_error: 2000,
  invalid_model: 2000,
  invalid_dsl: 2000,
  invalid_condition: 2000,
  invalid_context: 2000,
  condition_missing_parameters: 2000,
  condition_evaluation_error: 2000,
  resolution_too_complex: 2002,
  type_not_found: 2021,
  relation_not_found: 2022,
  invalid_tuple: 2027,
  model_not_found: 2001,
  latest_model_not_found: 2020,
  invalid_consistency_token: 2000,
  store_not_found: 5002,
  cannot_delete_missing_tuple: 2017,
  duplicate_tuple_in_write: 2004,
  write_conflict: 2017,
  request_too_large: 2000,
};

const STATUS: Record<TenetErrorCode, number> = {
  validation_error: 400,
  invalid_model: 400,
  invalid_dsl: 400,
  invalid_condition: 400,
  invalid_tuple: 400,
  invalid_context: 400,
  condition_missing_parameters: 400,
  condition_evaluation_error: 400,
  type_not_found: 400,
  relation_not_found: 400,
  // OpenFGA answers every error in its 2000-3999 range with 400, missing models included.
  model_not_found: 400,
  latest_model_not_found: 400,
  invalid_consistency_token: 400,
  store_not_found: 404,
  resolution_too_complex: 400,
  request_too_large: 413,
  write_conflict: 400,
  cannot_delete_missing_tuple: 400,
  duplicate_tuple_in_write: 400,
  not_found: 404,
  // The resource's state changed (someone else acted first): re-read it before retrying.
  conflict: 409,
  unauthenticated: 401,
  forbidden: 403,
  rate_limited: 429,
  unavailable: 503,
  audit_unavailable: 503,
  internal_error: 500,
};

export interface ErrorDetail {
  /** Where the problem is: a JSON path, a `type#relation`, a DSL line, a tuple key. */
  readonly where?: string;
  readonly message: string;
}

export class TenetError extends Error {
  override readonly name = "TenetError";
  readonly code: TenetErrorCode;
  readonly status: number;
  readonly details: readonly ErrorDetail[];

  constructor(code: TenetErrorCode, message: string, options: { cause?: unknown; details?: readonly ErrorDetail[] } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.status = STATUS[code];
    this.details = options.details ?? [];
  }

  /** OpenFGA's numeric error code, when OpenFGA has one for this error. */
  get openfgaCode(): number | undefined {
    return OPENFGA_CODES[this.code];
  }
}

export function isTenetError(err: unknown): err is TenetError {
  return err instanceof TenetError;
}
