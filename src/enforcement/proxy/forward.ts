/**
 * One request passed to an upstream and its answer passed back, on undici's dispatcher directly.
 * undici's request()/stream() build a Readable, an AbortSignal and a promise chain per request;
 * at a proxy's request rates those cost more than the HTTP exchange itself. Here the answer goes
 * straight from the dispatcher's callbacks to the client's response:
 * - a small body with a known length (≤ 64 KiB) is gathered and written with its headers in one
 *   write (one syscall, as an app server answers);
 * - anything else is streamed chunk by chunk, the upstream paused while the client is slow.
 * Hop-by-hop response headers (RFC 9110 §7.6.1), and those the upstream's Connection names, are
 * never passed back.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import type { Dispatcher } from "undici";

const HOP_BY_HOP = new Set(["connection", "keep-alive", "proxy-connection", "te", "trailer", "transfer-encoding", "upgrade", "proxy-authenticate", "proxy-authorization"]);
const GATHER_LIMIT = 64 * 1024;

export interface ForwardRequest {
  dispatcher: Dispatcher;
  /** `http(s)://host:port` of the upstream. */
  origin: string;
  /** Path and query as the upstream is to see them. */
  path: string;
  method: string;
  headers: Record<string, string | string[]>;
  /** The client's request, when it has a body to pass on. */
  body: IncomingMessage | null;
  timeoutMs: number;
}

/** Resolves when the answer has been passed on; rejects (nothing or part of it sent) otherwise. */
export function forward(f: ForwardRequest, res: ServerResponse): Promise<void> {
  return new Promise((resolve, reject) => {
    let status = 0;
    let out: Record<string, string | string[]> = {};
    let gathered: Buffer[] | undefined;
    let ctl: Dispatcher.DispatchController | undefined;
    let settled = false;
    let clientGone = false;
    const settle = (err?: Error) => {
      if (settled) return;
      settled = true;
      res.off("close", onClientGone);
      if (err) reject(err);
      else resolve();
    };
    // The client went away: stop asking the upstream.
    const onClientGone = () => {
      if (res.writableFinished) return;
      clientGone = true;
      ctl?.abort(new Error("client closed the connection"));
    };
    res.once("close", onClientGone);
    const handler: Dispatcher.DispatchHandler = {
      onRequestStart(controller) {
        ctl = controller;
        // The client left while the request waited for a free upstream connection: do not send it.
        if (clientGone) controller.abort(new Error("client closed the connection"));
      },
      onResponseStart(controller, statusCode, headers) {
        if (statusCode < 200) return; // 1xx informational answers are not passed on
        status = statusCode;
        out = {};
        // Fields the upstream's Connection names are hop-by-hop too (RFC 9110 §7.6.1).
        const conn = headers.connection;
        const named = conn === undefined ? undefined : new Set(String(conn).toLowerCase().split(",").map((t) => t.trim()));
        for (const k in headers) {
          const v = headers[k];
          if (v !== undefined && !HOP_BY_HOP.has(k) && !named?.has(k)) out[k] = v;
        }
        const length = Number(headers["content-length"]);
        if (Number.isInteger(length) && length >= 0 && length <= GATHER_LIMIT) gathered = [];
        else res.writeHead(status, out);
      },
      onResponseData(controller, chunk) {
        if (gathered) {
          gathered.push(chunk);
          return;
        }
        if (!res.write(chunk)) {
          controller.pause();
          res.once("drain", () => controller.resume());
        }
      },
      onResponseEnd() {
        if (gathered) {
          res.writeHead(status, out);
          res.end(gathered.length === 1 ? gathered[0] : Buffer.concat(gathered));
        } else res.end();
        settle();
      },
      onResponseError(_controller, err) {
        settle(err);
      },
    };
    // node:http has already answered a client's `Expect: 100-continue` with its own 100 (no
    // 'checkContinue' listener), so the body is coming; undici refuses the header outright
    // ("expect header not supported"), which would turn every such upload into a 502.
    let headers = f.headers;
    if (headers.expect !== undefined) {
      headers = { ...headers };
      delete headers.expect;
    }
    try {
      f.dispatcher.dispatch({ origin: f.origin, path: f.path, method: f.method as Dispatcher.HttpMethod, headers, body: f.body, headersTimeout: f.timeoutMs, bodyTimeout: f.timeoutMs }, handler);
    } catch (err) {
      settle(err as Error);
    }
  });
}
