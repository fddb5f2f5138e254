/**
 * Request schemas of the Shared Signals receivers API. Strict: an unknown field is refused. The
 * shapes are checked here; meaning (https endpoints, known event types) in the receiver registry.
 */
import { z } from "zod";
import { RECEIVER_STATUSES } from "../../identity/signals/receivers.js";
import { ulidSchema } from "../openfga/schemas.js";

// eslint-disable-next-line no-control-regex
const CONTROL_CHARS = /[\u0000-\u001f\u007f]/;
const line = (max: number) =>
  z
    .string()
    .min(1)
    .max(max)
    .refine((s) => !CONTROL_CHARS.test(s), "must not contain control characters");

const status = z.enum(RECEIVER_STATUSES);

export const receiverParams = z.strictObject({ id: ulidSchema });

export const createBody = z.strictObject({
  endpoint_url: line(2048).describe("https URL the SETs are POSTed to (RFC 8935)"),
  audience: line(512).optional().describe("the SETs' aud (default: endpoint_url)"),
  events_requested: z.array(line(200)).min(1).max(20).optional().describe("event type URIs (default: all Tenet sends)"),
  authorization_header: line(4096).optional().describe("sent as Authorization with every SET; write-only"),
  description: line(500).optional(),
  status: status.optional(),
});

export const statusBody = z.strictObject({ status, reason: line(500).optional() });

export const verifyBody = z.strictObject({
  state: z.string().min(1).max(1024).regex(/^[\x20-\x7e]+$/, "must be printable ASCII").optional(),
});

export const listQuery = z.strictObject({
  page_size: z.coerce.number().int().min(1).max(100).optional(),
  continuation_token: ulidSchema.optional(),
});

export const deliveriesQuery = z.strictObject({
  status: z.enum(["pending", "delivered", "dead", "discarded"]).optional(),
  page_size: z.coerce.number().int().min(1).max(100).optional(),
  continuation_token: ulidSchema.optional().describe("the jti of the last SET of the previous page"),
});
