/**
 * Failures of the database itself (as opposed to a caller's mistake, which is a TenetError):
 * the server cannot be reached, the file is not a database, the directory cannot be written,
 * or the schema was migrated by a newer Tenet. These stop the server at start with a clear
 * message; during operation the API layer treats them as internal errors (5xx, details hidden).
 */
export type StorageErrorCode =
  /** The database records a migration this build does not know: it was upgraded by a newer Tenet. */
  | "schema_too_new"
  /** The database cannot be reached (connection refused, authentication, server shutting down). */
  | "unavailable"
  /** The file is not a database, or the database is damaged. */
  | "corrupt"
  /** The data directory or database file cannot be created or written. */
  | "not_writable"
  /** A migration could not be found or applied; nothing was changed. */
  | "migration_failed";

export class StorageError extends Error {
  override readonly name = "StorageError";

  constructor(
    readonly code: StorageErrorCode,
    message: string,
    options: { cause?: unknown } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
  }
}

export function isStorageError(err: unknown): err is StorageError {
  return err instanceof StorageError;
}
