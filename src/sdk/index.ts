/**
 * Tenet's Node SDK: what an application behind Tenet imports. Depends on `jose` only, so it can
 * be published on its own (`@tenet/sdk`) without pulling in the server.
 */
export {
  ASSERTION_HEADER,
  ASSERTION_TYP,
  AssertionError,
  type AssertionErrorCode,
  type AssertionVerifier,
  type AssertionVerifierOptions,
  assertionFromHeaders,
  createAssertionVerifier,
  type HeaderSource,
  MAX_ASSERTION_TTL_SECONDS,
  type TenetIdentity,
} from "./assertion-verifier.js";
export { authorizeRequest, type DecisionPointOptions, type Refusal, tenetFastify, tenetMiddleware, type TenetMiddlewareOptions } from "./middleware.js";
