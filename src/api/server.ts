/**
 * Builds the HTTP server: Fastify with body and time limits, request ids, one error handler,
 * the OpenFGA and AuthZEN routes, health, metrics and the OpenAPI document. Authentication is a
 * hook in front of every route that declares a scope.
 */
import type { RelationshipQueryRecorder } from "../audit/query-recorder.js";
import Fastify, { type FastifyInstance, LogController } from "fastify";
import http from "node:http";
import https from "node:https";
import type { PolicyService } from "../policy/service.js";
import { errorResponse } from "./http-errors.js";
import { registerOpenFgaRoutes } from "./openfga/routes.js";
import { Router } from "./route.js";
import { openApiDocument } from "./openapi.js";
import type { Authenticator } from "./auth/authenticator.js";
import { DecisionLane, requestId } from "./lane.js";

export interface ServerOptions {
  policy: PolicyService;
  auth: Authenticator;
  logLevel?: string;
  /** Maximum request body (bytes). */
  bodyLimit?: number;
  /** Per-request time limit (ms). */
  requestTimeoutMs?: number;
  /** Extra route registrations (AuthZEN, metrics) that need the router. */
  plugins?: Array<(r: Router) => void>;
  /**
   * Serves requests before Fastify and the lane (the OpenID provider under /oidc): returns true
   * when it took the request.
   */
  raw?: ((req: http.IncomingMessage, res: http.ServerResponse) => boolean) | undefined;
  /** Takes HTTP upgrade requests (WebSockets through the proxy); others are refused. */
  upgrade?: ((req: http.IncomingMessage, socket: import("node:stream").Duplex, head: Buffer) => boolean) | undefined;
  /** Records every Check/BatchCheck answer in the audit log (off unless configured). */
  queries?: RelationshipQueryRecorder | undefined;
  /** Certificate and key (tls.ts): the server speaks HTTPS only; unset = plain HTTP. */
  tls?: https.ServerOptions | undefined;
}

declare module "fastify" {
  interface FastifyContextConfig {
    scope?: "check" | "read" | "write" | "admin" | undefined;
    routeUrl?: string;
  }
  interface FastifyReply {
    /** The decision a check/evaluation handler returned, for the decisions metric. */
    tenetDecision?: boolean;
  }
  interface FastifyRequest {
    principal?: { id: string; kind: "api_key" | "jwt"; scopes: ReadonlySet<string>; stores: ReadonlySet<string> | "*" };
  }
}

export async function buildServer(opts: ServerOptions): Promise<FastifyInstance> {
  const bodyLimit = opts.bodyLimit ?? 1024 * 1024;
  const requestTimeout = opts.requestTimeoutMs ?? 30_000;
  const connectionTimeout = 60_000;
  const keepAliveTimeout = 72_000;
  // Created before Fastify (whose logger it gets once Fastify exists) so that the server Fastify
  // listens with can route decision requests to it.
  const lane = new DecisionLane(bodyLimit);
  const app = Fastify({
    // The decision lane answers the hot decision routes first; Fastify everything else.
    serverFactory: (handler) => {
      const raw = opts.raw;
      const listener = (req: http.IncomingMessage, res: http.ServerResponse) => {
        if (lane.handle(req, res)) return;
        if (raw && raw(req, res)) return;
        handler(req, res);
      };
      // An https.Server is an http.Server behind TLS: the same events (request, upgrade,
      // clientError) and timeouts; a failed handshake (plain HTTP to this port) drops the socket.
      const server: http.Server = opts.tls ? https.createServer(opts.tls, listener) : http.createServer(listener);
      const upgrade = opts.upgrade;
      server.on("upgrade", (req: http.IncomingMessage, socket: import("node:stream").Duplex, head: Buffer) => {
        if (upgrade && upgrade(req, socket, head)) return;
        socket.end("HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-Length: 0\r\n\r\n");
      });
      // What Fastify sets on a server it creates itself.
      server.keepAliveTimeout = keepAliveTimeout;
      server.requestTimeout = requestTimeout;
      server.setTimeout(connectionTimeout);
      return server;
    },
    logger: {
      level: opts.logLevel ?? "info",
      redact: { paths: ["req.headers.authorization", "req.headers.cookie", "req.headers[\"x-api-key\"]"], censor: "[redacted]" },
    },
    bodyLimit,
    requestTimeout,
    connectionTimeout,
    keepAliveTimeout,
    genReqId: (req) => requestId(req.headers),
    return503OnClosing: true,
    // Malformed HTTP (bad request line, oversized headers) gets the same error shape as the API.
    clientErrorHandler: (err, socket) => {
      const status = (err as { code?: string }).code === "HPE_HEADER_OVERFLOW" ? 431 : 400;
      const body = JSON.stringify({ code: status === 431 ? "request_too_large" : "bad_request", message: status === 431 ? "request headers too large" : "malformed HTTP request" });
      if (socket.writable) {
        socket.end(`HTTP/1.1 ${status} ${status === 431 ? "Request Header Fields Too Large" : "Bad Request"}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`);
      } else socket.destroy(err);
    },
    routerOptions: { ignoreTrailingSlash: true, maxParamLength: 200 },
    // Per-request lines would double the cost of a check; latency is in /metrics instead.
    logController: new LogController({ disableRequestLogging: true }),
  });

  // Every response names its request. Authentication is a route-level hook of each route that
  // declares a scope (Router.add), run after this one.
  // Graceful shutdown: responses sent once closing has begun carry `Connection: close`, so a
  // keep-alive client does not hold the process open after its in-flight request finishes.
  lane.useLogger(app.log);
  let closing = false;
  app.addHook("preClose", (done) => {
    closing = true;
    lane.close();
    done();
  });
  app.addHook("onSend", (_req, reply, payload, done) => {
    if (closing) reply.header("connection", "close");
    done(null, payload);
  });

  app.addHook("onRequest", (req, reply, done) => {
    reply.header("x-request-id", req.id);
    done();
  });

  app.setErrorHandler((err, req, reply) => {
    const { status, body, internal, retryAfter } = errorResponse(err);
    if (internal) req.log.error({ err }, "request failed");
    const wait = retryAfter ?? (err as { retryAfter?: number }).retryAfter;
    if ((status === 429 || status === 503) && wait) reply.header("retry-after", String(wait));
    if (status === 401) reply.header("www-authenticate", 'Bearer realm="tenet"');
    reply.code(status).send(body);
  });
  app.setNotFoundHandler((req, reply) => {
    reply.code(404).send({ code: "undefined_endpoint", message: `no route ${req.method} ${req.url.split("?")[0]}` });
  });

  const router = new Router(app, opts.auth, lane);
  app.get("/healthz", async () => ({ status: "SERVING" }));
  app.get("/readyz", async (_req, reply) => {
    const ready = await opts.policy.ready();
    reply.code(ready ? 200 : 503);
    return { status: ready ? "READY" : "NOT_READY" };
  });
  registerOpenFgaRoutes(router, opts.policy, { queries: opts.queries });
  for (const p of opts.plugins ?? []) p(router);
  router.add({
    method: "GET", url: "/openapi.json", summary: "This API's OpenAPI 3.1 document", tags: ["Operations"], scope: "check",
    handler: async () => openApiDocument(router.routes),
  });
  return app;
}
