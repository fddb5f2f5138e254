/**
 * Failures of Tenet's own keys (as opposed to a caller's mistake, which is a TenetError): the
 * master key is missing, malformed or not the one that sealed a secret, or a sealed secret is
 * damaged. Like StorageError, these stop the server at start with a message saying what to fix;
 * during operation the API layer treats them as internal errors (5xx, details in the log only).
 * Messages never include key material.
 */
export type KeyErrorCode =
  /** TENET_MASTER_KEY or master.key is not 32 bytes of base64/base64url. */
  | "invalid_master_key"
  /** master.key cannot be read or created. */
  | "master_key_unavailable"
  /** A secret was sealed by another master key (the key changed, or replicas have different ones). */
  | "wrong_master_key"
  /** A sealed secret does not authenticate: altered, or sealed for another purpose. */
  | "unseal_failed"
  /** A stored key record or sealed box is not in a format this build knows, or is damaged. */
  | "malformed"
  /** The stored audit signing key belongs to another log name than the one configured. */
  | "name_mismatch";

export class KeyError extends Error {
  override readonly name = "KeyError";

  constructor(
    readonly code: KeyErrorCode,
    message: string,
    options: { cause?: unknown } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
  }
}

export function isKeyError(err: unknown): err is KeyError {
  return err instanceof KeyError;
}
