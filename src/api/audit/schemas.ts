/**
 * Request schemas of the audit API. Strict: unknown parameters are refused, numbers are bounded,
 * times are RFC 3339, so a bad query is a clear 400 and never a full scan by accident.
 */
import { z } from "zod";

const seq = z.coerce.number().int().min(0).max(Number.MAX_SAFE_INTEGER);
const size = z.coerce.number().int().min(1).max(Number.MAX_SAFE_INTEGER);
const rfc3339 = z.iso.datetime({ offset: true }).describe("RFC 3339 time, e.g. 2026-12-04T10:00:00Z");
// eslint-disable-next-line no-control-regex
const term = z.string().min(1).max(512).refine((s) => !/[\u0000-\u001f\u007f]/.test(s), "must not contain control characters");

export const entriesQuery = z
  .strictObject({
    from: rfc3339.optional(),
    to: rfc3339.optional(),
    type: z.string().regex(/^[a-z][a-z0-9_.]{0,63}$/, "must be an event type such as access.decision").optional(),
    store_id: term.optional(),
    subject: term.optional(),
    resource: term.optional(),
    decision: z.enum(["allow", "deny", "challenge", "pending", "success", "failure"]).optional(),
    policy: term.optional(),
    order: z.enum(["asc", "desc"]).optional(),
    /** Keyset paging: the `next_cursor` of the previous page. */
    cursor: seq.optional(),
    page_size: z.coerce.number().int().min(1).max(1000).optional(),
  })
  .refine((q) => q.from === undefined || q.to === undefined || Date.parse(q.from) <= Date.parse(q.to), { message: "from must not be after to", path: ["from"] });

export const seqParams = z.strictObject({ seq });

export const inclusionQuery = z.strictObject({
  /** The tree size to prove against; default the latest checkpoint's. */
  size: size.optional(),
});

export const consistencyQuery = z.strictObject({ first: size, second: size.optional() });
