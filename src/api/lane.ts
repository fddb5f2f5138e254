/**
 * The decision lane: the hot decision routes (Check, BatchCheck, AuthZEN evaluation) answered
 * straight from `node:http`, in front of Fastify. A decision is the one request a policy
 * enforcement point makes on every access, so it pays for no framework machinery it does not
 * use: about half of a Check's server time went to Fastify's request and reply objects, hooks
 * and content-type parsing.
 *
 * The lane runs the same route spec as Fastify would (see Router.add with `lane: true`): the same
 * authentication, the same strict schemas and fast parsers, the same handler, the same error
 * bodies (http-errors.ts) and the same metrics. It only takes requests whose framing is plain —
 * POST, a JSON content type, a Content-Length within the body limit, a path that matches a lane
 * route literally — and leaves everything else (chunked bodies, odd media types, oversized or
 * percent-encoded input, a server that is shutting down) to Fastify, so every edge case keeps
 * exactly one implementation.
 */
import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from "node:http";
import { randomUUID } from "node:crypto";
import { errorCodes, type FastifyBaseLogger } from "fastify";
import secureJson from "secure-json-parse";
import { errorResponse } from "./http-errors.js";

/** What a lane route handler sees of the request: the parts Fastify's request shares. */
export interface LaneRequest {
  readonly id: string;
  readonly headers: IncomingHttpHeaders;
  readonly params: Record<string, string>;
  readonly log: FastifyBaseLogger;
  principal?: import("./auth/authenticator.js").Principal;
}

/** What a lane route handler may do to the reply. */
export interface LaneReply {
  tenetDecision?: boolean | undefined;
  header(name: string, value: string): LaneReply;
  code(status: number): LaneReply;
}

/** Runs one route for a lane request: authenticate, then (given the parsed body) answer. */
export interface LaneRoute {
  url: string;
  /** Authenticates (before the body is read, as Fastify's onRequest hook does). */
  authenticate(req: LaneRequest): void | Promise<void>;
  /** Validates the parsed body and runs the handler; resolves to the 200 payload. */
  run(req: LaneRequest, reply: LaneReply, body: unknown): Promise<unknown>;
}

export type ResponseObserver = (route: string, method: string, status: number, seconds: number, decision: boolean | undefined) => void;

interface CompiledRoute {
  route: LaneRoute;
  /** Path segments; `null` marks a parameter, whose name is in `paramNames` at the same index. */
  segments: Array<string | null>;
  paramNames: string[];
}

/** Must match Fastify's `routerOptions.maxParamLength`: longer parameters are Fastify's to refuse. */
const MAX_PARAM_LENGTH = 200;
const REQUEST_ID = /^[\w.-]{1,64}$/;
const JSON_TYPE = /^application\/json\s*(;|$)/i;

/** The request id: the caller's `x-request-id` when it is a plain token, a new UUID otherwise. */
export function requestId(headers: IncomingHttpHeaders): string {
  const given = headers["x-request-id"];
  return typeof given === "string" && REQUEST_ID.test(given) ? given : randomUUID();
}

class Reply implements LaneReply {
  tenetDecision?: boolean | undefined;
  status = 200;
  readonly headers: Record<string, string>;

  constructor(id: string) {
    this.headers = { "x-request-id": id };
  }

  header(name: string, value: string): LaneReply {
    this.headers[name.toLowerCase()] = value;
    return this;
  }

  code(status: number): LaneReply {
    this.status = status;
    return this;
  }
}

export class DecisionLane {
  private readonly routes: CompiledRoute[] = [];
  private readonly observers: ResponseObserver[] = [];
  private closing = false;
  /**
   * Responses finished in this turn of the event loop, written together once it has read every
   * ready socket (setImmediate runs after the poll phase). Writing each as soon as it is ready
   * wakes the client's sleeping thread once per response; written back to back, one wake-up
   * serves many. Measured with `npm run bench:api`: Check from 27k to 34k requests/s, with lower
   * p50 and p99. Under light load the batch is one response and the wait is a few microseconds.
   */
  private readonly pending: Array<ServerResponse | string | undefined> = [];
  private flushScheduled = false;
  private readonly flush = (): void => {
    this.flushScheduled = false;
    const p = this.pending;
    for (let i = 0; i < p.length; i += 2) (p[i] as ServerResponse).end(p[i + 1] as string | undefined);
    p.length = 0;
  };
  private logger: FastifyBaseLogger | undefined;

  constructor(private readonly bodyLimit: number) {}

  useLogger(logger: FastifyBaseLogger): void {
    this.logger = logger;
  }

  private log(): FastifyBaseLogger {
    if (!this.logger) throw new Error("the decision lane has no logger yet");
    return this.logger;
  }

  add(route: LaneRoute): void {
    const parts = route.url.split("/").slice(1);
    this.routes.push({
      route,
      segments: parts.map((p) => (p.startsWith(":") ? null : p)),
      paramNames: parts.map((p) => (p.startsWith(":") ? p.slice(1) : "")),
    });
  }

  observe(observer: ResponseObserver): void {
    this.observers.push(observer);
  }

  /** From now on the server is draining: leave requests to Fastify, which answers 503. */
  close(): void {
    this.closing = true;
  }

  /** Answers `req` and returns true, or returns false to leave it to Fastify. */
  handle(req: IncomingMessage, res: ServerResponse): boolean {
    if (req.method !== "POST" || this.closing) return false;
    const headers = req.headers;
    const type = headers["content-type"];
    const length = headers["content-length"];
    if (type === undefined || !JSON_TYPE.test(type) || length === undefined || headers["transfer-encoding"] !== undefined) return false;
    const size = Number(length);
    if (!(size <= this.bodyLimit)) return false;
    const match = this.match(req.url ?? "");
    if (!match) return false;
    const [compiled, params] = match;
    void this.serve(compiled, params, req, res, size);
    return true;
  }

  private match(url: string): [CompiledRoute, Record<string, string>] | undefined {
    const q = url.indexOf("?");
    const parts = (q === -1 ? url : url.slice(0, q)).split("/");
    // parts[0] is the empty string before the leading slash.
    if (parts[0] !== "") return undefined;
    for (const c of this.routes) {
      const segs = c.segments;
      if (segs.length !== parts.length - 1) continue;
      let params: Record<string, string> | undefined = {};
      for (let i = 0; i < segs.length; i++) {
        const part = parts[i + 1]!;
        const seg = segs[i];
        if (seg === null) {
          // Percent-encoded or overlong parameters are Fastify's to decode or refuse.
          if (part.length === 0 || part.length > MAX_PARAM_LENGTH || part.includes("%")) {
            params = undefined;
            break;
          }
          params[c.paramNames[i]!] = part;
        } else if (seg !== part) {
          params = undefined;
          break;
        }
      }
      if (params) return [c, params];
    }
    return undefined;
  }

  private serve(c: CompiledRoute, params: Record<string, string>, raw: IncomingMessage, res: ServerResponse, size: number): void {
    // Callbacks rather than async/await: every promise and microtask is a measurable share of a
    // request this small.
    const call = new LaneCall(this, c.route, params, raw, res, size);
    let auth: void | Promise<void>;
    try {
      auth = c.route.authenticate(call);
    } catch (err) {
      call.fail(err);
      return;
    }
    if (auth) auth.then(() => call.readBody(), (err: unknown) => call.fail(err));
    else call.readBody();
  }

  /** Sends the reply and tells the observers. */
  send(call: LaneCall, payload: unknown): void {
    const res = call.res;
    if (res.headersSent || res.destroyed) return;
    const reply = call.reply;
    const headers = reply.headers;
    if (this.closing) headers.connection = "close";
    let body: string | undefined;
    if (payload !== undefined && payload !== null && reply.status !== 204) {
      body = typeof payload === "string" ? payload : JSON.stringify(payload);
      headers["content-type"] ??= "application/json; charset=utf-8";
      headers["content-length"] = String(Buffer.byteLength(body));
    } else if (reply.status !== 204) {
      headers["content-length"] = "0";
    }
    try {
      res.writeHead(reply.status, headers);
      this.pending.push(res, body);
      if (!this.flushScheduled) {
        this.flushScheduled = true;
        setImmediate(this.flush);
      }
    } catch (err) {
      // A header value the handler set was invalid: nothing useful can be sent any more.
      this.log().error({ err }, "could not send a response");
      res.destroy();
      return;
    }
    const seconds = (performance.now() - call.started) / 1000;
    for (const o of this.observers) o(call.route.url, call.raw.method!, reply.status, seconds, reply.tenetDecision);
  }

  childLog(id: string): FastifyBaseLogger {
    return this.log().child({ reqId: id });
  }

  get limit(): number {
    return this.bodyLimit;
  }
}

/** One request on the lane: what its handler sees as the request, and its progress. */
class LaneCall implements LaneRequest {
  readonly id: string;
  readonly headers: IncomingHttpHeaders;
  readonly reply: Reply;
  readonly started = performance.now();
  principal?: import("./auth/authenticator.js").Principal;
  private logger: FastifyBaseLogger | undefined;
  private first: Buffer | undefined;
  private chunks: Buffer[] | undefined;
  private received = 0;
  private done = false;

  constructor(
    private readonly lane: DecisionLane,
    readonly route: LaneRoute,
    readonly params: Record<string, string>,
    readonly raw: IncomingMessage,
    readonly res: ServerResponse,
    private readonly size: number,
  ) {
    this.headers = raw.headers;
    this.id = requestId(raw.headers);
    this.reply = new Reply(this.id);
  }

  get log(): FastifyBaseLogger {
    return (this.logger ??= this.lane.childLog(this.id));
  }

  /**
   * Reads the body (Content-Length is already known to be within the limit; the count guards
   * against a parser that delivers more), decoded once at the end as Fastify does, then runs
   * the route. An aborted request is dropped: there is no one to answer.
   */
  readBody(): void {
    const raw = this.raw;
    raw.on("data", (chunk: Buffer) => {
      if (this.done) return;
      this.received += chunk.length;
      if (this.received > this.lane.limit) {
        this.fail(new errorCodes.FST_ERR_CTP_BODY_TOO_LARGE());
        return;
      }
      if (this.first === undefined) this.first = chunk;
      else (this.chunks ??= [this.first]).push(chunk);
    });
    raw.on("end", () => {
      if (this.done) return;
      if (this.received !== this.size) {
        this.fail(new errorCodes.FST_ERR_CTP_INVALID_CONTENT_LENGTH());
        return;
      }
      const buf = this.chunks ? Buffer.concat(this.chunks) : this.first;
      this.run(buf ? buf.toString("utf8") : "");
    });
    raw.on("error", () => {
      this.done = true;
    });
  }

  private run(text: string): void {
    let pending: Promise<unknown>;
    try {
      pending = this.route.run(this, this.reply, parseJson(text));
    } catch (err) {
      this.fail(err);
      return;
    }
    pending.then(
      (payload) => {
        this.done = true;
        this.lane.send(this, payload);
      },
      (err: unknown) => this.fail(err),
    );
  }

  fail(err: unknown): void {
    this.done = true;
    const reply = this.reply;
    const { status, body, internal, retryAfter } = errorResponse(err);
    if (internal) this.log.error({ err }, "request failed");
    const wait = retryAfter ?? (err as { retryAfter?: number }).retryAfter;
    if ((status === 429 || status === 503) && wait) reply.header("retry-after", String(wait));
    if (status === 401) reply.header("www-authenticate", 'Bearer realm="tenet"');
    reply.status = status;
    reply.tenetDecision = undefined;
    this.lane.send(this, body);
  }
}

/**
 * JSON as Fastify's default parser reads it: refusing `__proto__` and `constructor.prototype`.
 * Text that cannot spell either key (not even with \u escapes) skips secure-json-parse's
 * regular-expression scans.
 */
function parseJson(text: string): unknown {
  if (text.length === 0) throw new errorCodes.FST_ERR_CTP_EMPTY_JSON_BODY();
  try {
    if (!text.includes("\\u") && !text.includes("__proto__") && !text.includes("constructor")) return JSON.parse(text);
    return secureJson.parse(text, { protoAction: "error", constructorAction: "error" });
  } catch {
    throw new errorCodes.FST_ERR_CTP_INVALID_JSON_BODY();
  }
}
