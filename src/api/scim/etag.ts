/**
 * Versions as entity tags (RFC 7644 §3.14, RFC 9110 §8.8.3): a resource's ETag is the weak tag
 * of its document version, `W/"<version>"`. `If-Match` on PUT/PATCH/DELETE refuses to change a
 * resource another client changed since it was read (412); `If-None-Match` on GET answers 304
 * when nothing changed.
 */
import { ScimError } from "./errors.js";

export function etag(version: number): string {
  return `W/"${version}"`;
}

/**
 * Whether an `If-Match`/`If-None-Match` header names `version` (or is `*`). Tags are compared
 * weakly: `"3"` and `W/"3"` name the same version.
 */
export function tagMatches(header: string, version: number): boolean {
  if (header.length > 1024) return false;
  return header.split(",").some((t) => {
    const tag = t.trim();
    if (tag === "*") return true;
    const opaque = tag.startsWith("W/") ? tag.slice(2) : tag;
    return opaque === `"${version}"`;
  });
}

/** Throws 412 unless the `If-Match` header (when sent) names the current version. */
export function checkIfMatch(header: string | undefined, version: number): void {
  if (header !== undefined && !tagMatches(header, version)) {
    throw new ScimError(412, undefined, `the resource has changed since it was read: it is now at version ${etag(version)}`);
  }
}
