/**
 * The transmitter's metadata (SSF 1.0 §7.1), served at `/.well-known/ssf-configuration` (with
 * the issuer's path, if any, appended: §7.2). Receivers read the `jwks_uri` here to verify SETs,
 * and check that `issuer` equals the SETs' `iss`.
 *
 * Streams are configured by Tenet's administrators (the receivers API), not by receivers through
 * the SSF management API, so no management endpoints are advertised. Every subject's events go to
 * every receiver that asked for the event type: `default_subjects` is `ALL`.
 */
import { SUPPORTED_EVENTS } from "./events.js";

/** Push delivery, RFC 8935 (SSF 1.0 §6.1.1). */
export const PUSH_DELIVERY = "urn:ietf:rfc:8935";

export interface SsfConfiguration {
  spec_version: "1_0";
  issuer: string;
  jwks_uri: string;
  delivery_methods_supported: string[];
  default_subjects: "ALL";
  /** Not an SSF metadata member (receivers ignore what they do not know): what Tenet can send. */
  events_supported: string[];
}

export function ssfConfiguration(issuer: string, jwksUri: string): SsfConfiguration {
  return {
    spec_version: "1_0",
    issuer,
    jwks_uri: jwksUri,
    delivery_methods_supported: [PUSH_DELIVERY],
    default_subjects: "ALL",
    events_supported: [...SUPPORTED_EVENTS],
  };
}

/**
 * Where the metadata is served for `issuer`: `/.well-known/ssf-configuration` followed by the
 * issuer's path without its trailing slash (SSF 1.0 §7.2).
 */
export function ssfConfigurationPath(issuer: string): string {
  const path = new URL(issuer).pathname.replace(/\/+$/, "");
  return `/.well-known/ssf-configuration${path}`;
}
