/**
 * Shared Signals receivers over HTTP, under `/identity/signals/`: an administrator registers the
 * receivers Tenet pushes CAEP events to, pauses or disables them, asks for a verification event
 * and reads what each was sent. Admin scope throughout: a receiver's endpoint decides where
 * identity events about every user go.
 *
 * A receiver's authorization header is write-only: responses say whether one is set
 * (`authorization_header_set`), never what it is.
 */
import { TenetError } from "../../errors.js";
import type { SetRecord } from "../../identity/signals/outbox.js";
import type { Receiver, ReceiverRegistry } from "../../identity/signals/receivers.js";
import type { Transmitter } from "../../identity/signals/transmitter.js";
import type { Router } from "../route.js";
import * as s from "./schemas.js";

const TAGS = ["Shared Signals"];
const BASE = "/identity/signals/receivers";

export interface SignalRoutesOptions {
  receivers: ReceiverRegistry;
  transmitter: Transmitter;
}

/** The wire shape of a receiver: no secret in it. */
export function receiverView(r: Receiver) {
  return {
    id: r.id,
    ...(r.description !== undefined ? { description: r.description } : {}),
    endpoint_url: r.endpointUrl,
    delivery_method: "urn:ietf:rfc:8935",
    audience: r.audience,
    events_requested: r.events,
    status: r.status,
    ...(r.statusReason !== undefined ? { status_reason: r.statusReason } : {}),
    authorization_header_set: r.hasAuthorization,
    created_at: r.createdAt,
    updated_at: r.updatedAt,
    version: r.version,
  };
}

function deliveryView(d: SetRecord) {
  return {
    jti: d.jti,
    event_type: d.type,
    status: d.status,
    attempts: d.attempts,
    created_at: d.createdAt,
    ...(d.status === "pending" ? { next_attempt_at: d.nextAttemptAt } : {}),
    ...(d.lastAttemptAt !== undefined ? { last_attempt_at: d.lastAttemptAt } : {}),
    ...(d.lastError !== undefined ? { last_error: d.lastError } : {}),
    ...(d.deliveredAt !== undefined ? { delivered_at: d.deliveredAt } : {}),
    ...(d.endedAt !== undefined ? { ended_at: d.endedAt } : {}),
    claims: d.payload,
  };
}

export function registerSignalRoutes(r: Router, opts: SignalRoutesOptions): void {
  const { receivers, transmitter } = opts;
  r.add({
    method: "POST", url: BASE, summary: "Register a Shared Signals receiver (SETs pushed per RFC 8935)", tags: TAGS, scope: "admin",
    body: s.createBody,
    handler: async ({ body, reply }) => {
      const created = await receivers.create({
        endpointUrl: body.endpoint_url,
        audience: body.audience,
        events: body.events_requested,
        authorizationHeader: body.authorization_header,
        description: body.description,
        status: body.status,
      });
      reply.code(201);
      return receiverView(created);
    },
  });
  r.add({
    method: "GET", url: BASE, summary: "List Shared Signals receivers", tags: TAGS, scope: "admin",
    query: s.listQuery,
    handler: async ({ query }) => {
      const page = await receivers.list({ after: query.continuation_token, limit: query.page_size });
      return { receivers: page.items.map(receiverView), continuation_token: page.next ?? "" };
    },
  });
  r.add({
    method: "GET", url: `${BASE}/:id`, summary: "Get a Shared Signals receiver", tags: TAGS, scope: "admin",
    params: s.receiverParams,
    handler: async ({ params }) => receiverView(await receivers.require(params.id)),
  });
  r.add({
    method: "DELETE", url: `${BASE}/:id`, summary: "Delete a Shared Signals receiver (its undelivered SETs are discarded)", tags: TAGS, scope: "admin",
    params: s.receiverParams,
    handler: async ({ params, reply }) => {
      if (!(await receivers.delete(params.id))) throw new TenetError("not_found", `no receiver '${params.id}'`);
      await transmitter.discardPending(params.id, "receiver deleted");
      reply.code(204);
      return null;
    },
  });
  r.add({
    method: "POST", url: `${BASE}/:id/status`, summary: "Enable, pause (SETs are kept) or disable (SETs are dropped) a receiver", tags: TAGS, scope: "admin",
    params: s.receiverParams, body: s.statusBody,
    handler: async ({ params, body }) => {
      const updated = await receivers.setStatus(params.id, body.status, body.reason);
      if (updated.status === "disabled") await transmitter.discardPending(updated.id, "receiver disabled");
      return receiverView(updated);
    },
  });
  r.add({
    method: "POST", url: `${BASE}/:id/verify`, summary: "Send the receiver an SSF verification event", tags: TAGS, scope: "admin",
    params: s.receiverParams, body: s.verifyBody,
    handler: async ({ params, body, reply }) => {
      const rec = await transmitter.verify(params.id, body.state);
      // Accepted, not yet delivered (SSF 1.0 §8.1.4.2): follow it under /deliveries by its jti.
      reply.code(202);
      return { jti: rec.jti, status: rec.status };
    },
  });
  r.add({
    method: "GET", url: `${BASE}/:id/deliveries`, summary: "The SETs sent to a receiver, oldest first, with their delivery state", tags: TAGS, scope: "admin",
    params: s.receiverParams, query: s.deliveriesQuery,
    handler: async ({ params, query }) => {
      await receivers.require(params.id);
      const limit = query.page_size ?? 50;
      const items = await transmitter.deliveries(params.id, {
        status: query.status,
        after: query.continuation_token !== undefined ? `${params.id}:${query.continuation_token}` : undefined,
        limit,
      });
      return { deliveries: items.map(deliveryView), continuation_token: items.length === limit ? items[items.length - 1]!.jti : "" };
    },
  });
}
