/**
 * Request bodies of the SCIM routes (`application/scim+json`, RFC 7644 §3.1, and
 * `application/json`). Fastify bounds their size (413); here they are refused, with a SCIM 400
 * `invalidSyntax`, when they are not JSON, nest deeper than any SCIM message does (checked on the
 * text before parsing, so nothing recursive ever sees them), or carry `__proto__` /
 * `constructor.prototype` keys (prototype poisoning).
 */
import secureJson from "secure-json-parse";
import { invalidSyntax } from "./errors.js";

/** SCIM messages nest 4 levels (PatchOp → Operations → op → value → member); leave room. */
export const MAX_DEPTH = 16;

/** Whether the JSON text nests objects/arrays deeper than `max` (strings are skipped). */
export function nestsDeeperThan(text: string, max: number): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c) i++;
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) {
      inString = true;
    } else if (c === 0x7b || c === 0x5b) {
      if (++depth > max) return true;
    } else if (c === 0x7d || c === 0x5d) {
      depth--;
    }
  }
  return false;
}

/** The parsed body; undefined for an empty one (a DELETE that names a content type). */
export function parseScimJson(text: string): unknown {
  if (text.trim() === "") return undefined;
  if (nestsDeeperThan(text, MAX_DEPTH)) throw invalidSyntax(`the body nests more than ${MAX_DEPTH} levels deep`);
  try {
    return secureJson.parse(text, undefined, { protoAction: "error", constructorAction: "error" });
  } catch (err) {
    // Only the position: V8's messages quote the body, which may hold a password (Okta sends one).
    const at = /position (\d+)/.exec((err as Error).message)?.[1];
    const forbidden = /prototype/.test((err as Error).message);
    throw invalidSyntax(forbidden ? "the body has a forbidden __proto__ or constructor.prototype key" : `the body is not valid JSON${at ? ` (at position ${at})` : ""}`);
  }
}
