/**
 * forward(): one request passed to an upstream on undici's dispatcher and its answer written to a
 * node:http response. Real sockets throughout: an upstream (node:http, or raw bytes on net when the
 * test needs exact framing), a small front server whose handler calls forward() as
 * src/enforcement/proxy/proxy.ts does (502 when it rejects before headers went out, else the
 * response destroyed), and real clients (node:http, undici, raw sockets) against the front.
 */
import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { createServer, request as httpRequest, type IncomingHttpHeaders, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { connect, createServer as createNetServer, type Socket } from "node:net";
import { describe, it, type TestContext } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { Agent, request as undiciRequest } from "undici";
import { forward } from "../../src/enforcement/proxy/forward.js";

// ---------------------------------------------------------------------------------------------
// Harness
// ---------------------------------------------------------------------------------------------

const HOP_BY_HOP = new Set(["connection", "keep-alive", "proxy-connection", "te", "trailer", "transfer-encoding", "upgrade", "proxy-authorization", "proxy-authenticate"]);

async function listen(server: Server | import("node:net").Server): Promise<number> {
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const a = server.address();
  assert.ok(a && typeof a === "object");
  return a.port;
}

/** Waits until `cond` holds, failing with `what` after `ms`. */
async function until(what: string, cond: () => boolean, ms = 3000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) assert.fail(`timed out after ${ms} ms waiting for: ${what}`);
    await sleep(10);
  }
}

const sha256 = (b: Buffer) => createHash("sha256").update(b).digest("hex");

/** A node:http upstream; every request it saw, and whether its request/response closed early. */
interface Upstream {
  origin: string;
  seen: Array<{ method: string; url: string; headers: IncomingHttpHeaders; closed: boolean }>;
}

async function httpUpstream(t: TestContext, handler: (req: IncomingMessage, res: ServerResponse) => void): Promise<Upstream> {
  const seen: Upstream["seen"] = [];
  const server = createServer((req, res) => {
    const entry = { method: req.method ?? "", url: req.url ?? "", headers: req.headers, closed: false };
    seen.push(entry);
    // The response closing before it finished = the proxy hung up on this request.
    res.on("close", () => {
      if (!res.writableFinished) entry.closed = true;
    });
    res.on("error", () => {});
    handler(req, res);
  });
  const port = await listen(server);
  t.after(() => {
    server.closeAllConnections();
    server.close();
  });
  return { origin: `http://127.0.0.1:${port}`, seen };
}

/** An upstream speaking raw bytes: `onRequest` gets the socket and the request head once it is read. */
async function rawUpstream(t: TestContext, onRequest: (socket: Socket, head: string) => void): Promise<string> {
  const sockets = new Set<Socket>();
  const server = createNetServer((socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
    socket.on("error", () => {});
    let buf = "";
    const onData = (d: Buffer) => {
      buf += d.toString("latin1");
      const end = buf.indexOf("\r\n\r\n");
      if (end < 0) return;
      socket.off("data", onData);
      onRequest(socket, buf.slice(0, end));
    };
    socket.on("data", onData);
  });
  const port = await listen(server);
  t.after(() => {
    for (const s of sockets) s.destroy();
    server.close();
  });
  return `http://127.0.0.1:${port}`;
}

/** A port nothing listens on (bound, then released). */
async function closedPort(): Promise<number> {
  const s = createNetServer();
  const port = await listen(s);
  await new Promise<void>((resolve) => s.close(() => resolve()));
  return port;
}

/** What the front passes upstream: the client's headers minus hop-by-hop ones and those its Connection names, Host rewritten. */
function upstreamHeaders(req: IncomingMessage, origin: string): Record<string, string | string[]> {
  const named = new Set(String(req.headers.connection ?? "").toLowerCase().split(",").map((s) => s.trim()).filter(Boolean));
  const out: Record<string, string | string[]> = {};
  for (let i = 0; i < req.rawHeaders.length; i += 2) {
    const name = (req.rawHeaders[i] as string).toLowerCase();
    const value = req.rawHeaders[i + 1] as string;
    if (HOP_BY_HOP.has(name) || named.has(name)) continue;
    const prev = out[name];
    out[name] = prev === undefined ? value : Array.isArray(prev) ? [...prev, value] : [prev, value];
  }
  out.host = new URL(origin).host;
  return out;
}

const hasBody = (req: IncomingMessage) => req.headers["transfer-encoding"] !== undefined || (req.headers["content-length"] !== undefined && req.headers["content-length"] !== "0");

/** The front: calls forward() for every request and answers as the proxy does when it rejects. */
interface Front {
  port: number;
  /** Per request, in arrival order: undefined once forward resolved, the error once it rejected. */
  outcomes: Array<Error | undefined | "pending">;
  responses: ServerResponse[];
}

async function startFront(t: TestContext, origin: string, opts: { timeoutMs?: number; connections?: number } = {}): Promise<Front> {
  const agent = new Agent({ connections: opts.connections ?? null });
  const f: Front = { port: 0, outcomes: [], responses: [] };
  const server = createServer((req, res) => {
    const i = f.outcomes.push("pending") - 1;
    f.responses.push(res);
    forward({ dispatcher: agent, origin, path: req.url ?? "/", method: req.method ?? "GET", headers: upstreamHeaders(req, origin), body: hasBody(req) ? req : null, timeoutMs: opts.timeoutMs ?? 10_000 }, res).then(
      () => {
        f.outcomes[i] = undefined;
      },
      (err: Error) => {
        f.outcomes[i] = err;
        if (!res.headersSent) {
          const body = JSON.stringify({ code: "bad_gateway", message: "The application did not answer." });
          res.writeHead(502, { "content-type": "application/json", "content-length": Buffer.byteLength(body) });
          res.end(body);
        } else res.destroy();
      },
    );
  });
  f.port = await listen(server);
  t.after(async () => {
    server.closeAllConnections();
    server.close();
    await agent.destroy();
  });
  return f;
}

/** forward()'s outcome for the front's `i`-th request, once settled. */
async function outcome(f: Front, i = 0, ms = 5000): Promise<Error | undefined> {
  await until(`forward() of request ${i} to settle`, () => f.outcomes.length > i && f.outcomes[i] !== "pending", ms);
  return f.outcomes[i] as Error | undefined;
}

interface Got {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
  /** The whole body arrived (false: the response was cut off). */
  complete: boolean;
  error?: Error;
}

/** A node:http client request to the front; settles on the response's end or its cut-off, never hangs silently. */
function send(port: number, o: { method?: string; path?: string; headers?: Record<string, string | string[]>; body?: Buffer | ((req: import("node:http").ClientRequest) => void) } = {}): Promise<Got> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: "127.0.0.1", port, method: o.method ?? "GET", path: o.path ?? "/", headers: o.headers ?? {}, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      let error: Error | undefined;
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("error", (e) => (error = e));
      res.on("close", () => {
        const got: Got = { status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks), complete: res.complete };
        if (error) got.error = error;
        resolve(got);
      });
    });
    req.on("error", reject);
    if (typeof o.body === "function") o.body(req);
    else req.end(o.body);
  });
}

/** Raw bytes to the front; everything it sends back until it closes or stays quiet for `idleMs`. */
function rawExchange(port: number, text: string, idleMs = 300): Promise<Buffer[]> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    const socket = connect(port, "127.0.0.1", () => socket.write(text));
    let timer = setTimeout(() => done(), idleMs + 2000);
    const done = () => {
      clearTimeout(timer);
      socket.destroy();
      resolve(chunks);
    };
    socket.on("data", (c: Buffer) => {
      chunks.push(c);
      clearTimeout(timer);
      timer = setTimeout(done, idleMs);
    });
    socket.on("close", done);
    socket.on("error", () => {});
  });
}

/**
 * Writes `total` random bytes on `res`, honouring backpressure (waits for 'drain' when write()
 * returns false); records how far it got and whether it ever had to wait.
 */
function pump(res: ServerResponse, total: number, chunkSize = 64 * 1024) {
  const hash = createHash("sha256");
  const state = { written: 0, sawFalse: false, waiting: false, digest: "" };
  const step = () => {
    while (state.written < total && !res.destroyed) {
      const chunk = randomBytes(Math.min(chunkSize, total - state.written));
      hash.update(chunk);
      state.written += chunk.length;
      if (!res.write(chunk)) {
        state.sawFalse = true;
        state.waiting = true;
        res.once("drain", () => {
          state.waiting = false;
          step();
        });
        return;
      }
    }
    if (state.written === total && !state.digest) {
      state.digest = hash.digest("hex");
      res.end();
    }
  };
  step();
  return state;
}

// ---------------------------------------------------------------------------------------------
// Tests
// ---------------------------------------------------------------------------------------------

describe("forward: small answers", { timeout: 20_000 }, () => {
  it("passes a small JSON answer byte for byte with its status, type and the app's own headers (several Set-Cookie); hop-by-hop headers stay behind", async (t) => {
    const body = Buffer.from(JSON.stringify({ ok: true, name: "Zoë — ünïcödé ✓", list: [1, 2, 3] }));
    let seenHead = "";
    // Raw bytes: node:http would refuse to send some of these (Trailer with a Content-Length, TE).
    const origin = await rawUpstream(t, (socket, head) => {
      seenHead = head;
      socket.write(
        [
          "HTTP/1.1 201 Created",
          "Content-Type: application/json; charset=utf-8",
          `Content-Length: ${body.length}`,
          "Set-Cookie: a=1; Path=/; HttpOnly",
          "Set-Cookie: b=2; Path=/; Secure",
          "Set-Cookie: c=3",
          "X-App: yes",
          "Cache-Control: private, max-age=5",
          'ETag: "v1"',
          // Hop-by-hop (RFC 9110 §7.6.1), and one header the upstream's Connection names as such.
          "Connection: keep-alive, X-Hop",
          "X-Hop: for this hop only",
          "Keep-Alive: timeout=99, max=7",
          "Upgrade: h2c",
          'Proxy-Authenticate: Basic realm="upstream"',
          "Proxy-Connection: keep-alive",
          "Trailer: X-Checksum",
          "TE: trailers",
          "",
          "",
        ].join("\r\n"),
      );
      socket.write(body);
    });
    const front = await startFront(t, origin);
    const got = await send(front.port, { path: "/api/things?x=1" });

    assert.equal(got.status, 201);
    assert.ok(got.complete);
    assert.deepEqual(got.body, body);
    assert.equal(got.headers["content-type"], "application/json; charset=utf-8");
    assert.equal(got.headers["content-length"], String(body.length));
    assert.deepEqual(got.headers["set-cookie"], ["a=1; Path=/; HttpOnly", "b=2; Path=/; Secure", "c=3"]);
    assert.equal(got.headers["x-app"], "yes");
    assert.equal(got.headers["cache-control"], "private, max-age=5");
    assert.equal(got.headers.etag, '"v1"');
    for (const h of ["upgrade", "proxy-authenticate", "proxy-connection", "trailer", "te", "transfer-encoding", "x-hop"]) {
      assert.equal(got.headers[h], undefined, `${h} must not be passed back`);
    }
    // node:http writes its own Connection/Keep-Alive for the front's connection; the upstream's are not them.
    assert.notEqual(got.headers["keep-alive"], "timeout=99, max=7");
    assert.doesNotMatch(String(got.headers.connection ?? ""), /x-hop/);
    assert.match(seenHead, /^GET \/api\/things\?x=1 HTTP\/1\.1\r\n/);
    assert.equal(await outcome(front), undefined);
  });

  it("gathers a small body sent by the upstream in pieces and writes it with its headers at once", async (t) => {
    const body = randomBytes(1000);
    const up = await httpUpstream(t, (_req, res) => {
      res.writeHead(200, { "content-type": "application/octet-stream", "content-length": body.length });
      res.write(body.subarray(0, 100));
      setTimeout(() => res.end(body.subarray(100)), 150);
    });
    const front = await startFront(t, up.origin);
    const chunks = await rawExchange(front.port, "GET / HTTP/1.1\r\nHost: front\r\nConnection: close\r\n\r\n");
    const first = chunks[0] as Buffer;
    const headEnd = first.indexOf("\r\n\r\n");
    assert.ok(headEnd > 0);
    // The first bytes the client receives already hold the whole body: nothing was written before it was all there.
    assert.deepEqual(first.subarray(headEnd + 4), body);
    assert.match(first.subarray(0, headEnd).toString(), /^HTTP\/1\.1 200 /);
  });

  it("does not pass the upstream's Transfer-Encoding or Trailer back: an HTTP/1.0 client gets the plain body", async (t) => {
    const parts = ["hello, ", "chunked ", "world"];
    const origin = await rawUpstream(t, (socket) => {
      let out = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\nTrailer: X-Checksum\r\n\r\n";
      for (const p of parts) out += `${p.length.toString(16)}\r\n${p}\r\n`;
      out += "0\r\nX-Checksum: abc\r\n\r\n";
      socket.write(out);
    });
    const front = await startFront(t, origin);
    const all = Buffer.concat(await rawExchange(front.port, "GET / HTTP/1.0\r\nHost: front\r\n\r\n")).toString("latin1");
    const [head, rest] = [all.slice(0, all.indexOf("\r\n\r\n")), all.slice(all.indexOf("\r\n\r\n") + 4)];
    assert.match(head, /^HTTP\/1\.1 200 /);
    assert.doesNotMatch(head, /transfer-encoding/i);
    assert.doesNotMatch(head, /^trailer:/im);
    assert.doesNotMatch(head, /x-checksum/i);
    // Had "Transfer-Encoding: chunked" been copied, node:http would have chunk-framed this body.
    assert.equal(rest, parts.join(""));
    assert.equal(await outcome(front), undefined);
  });

  it("passes a close-delimited body (no Content-Length, no chunking) intact", async (t) => {
    const body = randomBytes(200 * 1024);
    const origin = await rawUpstream(t, (socket) => {
      socket.write("HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nConnection: close\r\n\r\n");
      socket.end(body);
    });
    const front = await startFront(t, origin);
    const got = await send(front.port);
    assert.equal(got.status, 200);
    assert.ok(got.complete);
    assert.equal(sha256(got.body), sha256(body));
    assert.equal(await outcome(front), undefined);
  });
});

describe("forward: large answers", { timeout: 30_000 }, () => {
  it("streams a 5 MB chunked answer (no Content-Length) byte-identical", async (t) => {
    let digest = "";
    const up = await httpUpstream(t, (_req, res) => {
      res.writeHead(200, { "content-type": "application/octet-stream" });
      const s = pump(res, 5 * 1024 * 1024, 16 * 1024 + 7);
      res.on("finish", () => (digest = s.digest));
    });
    const front = await startFront(t, up.origin);
    const client = new Agent();
    t.after(() => client.destroy());
    const r = await undiciRequest(`http://127.0.0.1:${front.port}/big`, { dispatcher: client });
    const body = Buffer.from(await r.body.arrayBuffer());
    assert.equal(r.statusCode, 200);
    assert.equal(r.headers["content-length"], undefined);
    assert.equal(body.length, 5 * 1024 * 1024);
    assert.equal(sha256(body), digest);
    assert.equal(await outcome(front), undefined);
  });

  it("streams a 5 MB answer with Content-Length byte-identical, the length passed on", async (t) => {
    const body = randomBytes(5 * 1024 * 1024);
    const up = await httpUpstream(t, (_req, res) => {
      res.writeHead(200, { "content-type": "application/octet-stream", "content-length": body.length });
      res.end(body);
    });
    const front = await startFront(t, up.origin);
    const got = await send(front.port);
    assert.equal(got.status, 200);
    assert.equal(got.headers["content-length"], String(body.length));
    assert.ok(got.complete);
    assert.equal(sha256(got.body), sha256(body));
    assert.equal(await outcome(front), undefined);
  });

  for (const size of [0, 1, 64 * 1024 - 1, 64 * 1024, 64 * 1024 + 1, 200 * 1024]) {
    it(`passes a ${size}-byte answer with Content-Length intact (either side of the 64 KiB gather limit)`, async (t) => {
      const body = randomBytes(size);
      const up = await httpUpstream(t, (_req, res) => {
        res.writeHead(200, { "content-length": body.length });
        // In several writes, so gathering really has several chunks to join.
        const third = Math.floor(size / 3);
        res.write(body.subarray(0, third));
        res.write(body.subarray(third, 2 * third));
        res.end(body.subarray(2 * third));
      });
      const front = await startFront(t, up.origin);
      const got = await send(front.port);
      assert.equal(got.status, 200);
      assert.equal(got.headers["content-length"], String(size));
      assert.equal(got.body.length, size);
      assert.equal(sha256(got.body), sha256(body));
      assert.equal(await outcome(front), undefined);
    });
  }
});

describe("forward: backpressure", { timeout: 30_000 }, () => {
  const TOTAL = 64 * 1024 * 1024;

  it("pauses the upstream while the client does not read, then passes every byte; the front buffers little", async (t) => {
    let state: ReturnType<typeof pump> | undefined;
    const up = await httpUpstream(t, (_req, res) => {
      res.writeHead(200, { "content-type": "application/octet-stream" });
      state = pump(res, TOTAL);
    });
    const front = await startFront(t, up.origin);
    const got = await new Promise<{ hash: string; length: number }>((resolve, reject) => {
      const req = httpRequest({ host: "127.0.0.1", port: front.port, path: "/", agent: false }, (res) => {
        res.pause();
        const hash = createHash("sha256");
        let length = 0;
        void (async () => {
          // The client reads nothing: the upstream must end up waiting for 'drain'.
          await until("the upstream to wait for drain", () => state?.waiting === true, 10_000);
          await sleep(500);
          const s = state as NonNullable<typeof state>;
          assert.ok(s.sawFalse, "the upstream's write() returned false");
          assert.ok(s.waiting, "the upstream is still waiting while the client is paused");
          assert.ok(s.written < TOTAL / 2, `the upstream stopped early (wrote ${s.written} of ${TOTAL})`);
          const buffered = (front.responses[0] as ServerResponse).writableLength;
          assert.ok(buffered < 1024 * 1024, `the front holds ${buffered} bytes in memory for this client`);
          res.on("data", (c: Buffer) => {
            hash.update(c);
            length += c.length;
          });
          res.on("end", () => resolve({ hash: hash.digest("hex"), length }));
          res.resume();
        })().catch(reject);
      });
      req.on("error", reject);
      req.end();
    });
    assert.equal(got.length, TOTAL);
    assert.equal(got.hash, state?.digest);
    assert.equal(await outcome(front), undefined);
  });

  it("a client paused for longer than timeoutMs is not mistaken for a stalled upstream", async (t) => {
    let state: ReturnType<typeof pump> | undefined;
    const up = await httpUpstream(t, (_req, res) => {
      res.writeHead(200, { "content-type": "application/octet-stream" });
      state = pump(res, 32 * 1024 * 1024);
    });
    const front = await startFront(t, up.origin, { timeoutMs: 300 });
    const got = await new Promise<{ hash: string; length: number }>((resolve, reject) => {
      const req = httpRequest({ host: "127.0.0.1", port: front.port, path: "/", agent: false }, (res) => {
        res.pause();
        const hash = createHash("sha256");
        let length = 0;
        res.on("data", (c: Buffer) => {
          hash.update(c);
          length += c.length;
        });
        res.on("end", () => resolve({ hash: hash.digest("hex"), length }));
        res.on("error", reject);
        setTimeout(() => res.resume(), 1200);
      });
      req.on("error", reject);
      req.end();
    });
    assert.equal(got.length, 32 * 1024 * 1024);
    assert.equal(got.hash, state?.digest);
    assert.equal(await outcome(front), undefined);
  });
});

describe("forward: request bodies", { timeout: 20_000 }, () => {
  /** An upstream that answers with what it received: hash, length and framing headers. */
  async function echoUpstream(t: TestContext) {
    return httpUpstream(t, (req, res) => {
      const hash = createHash("sha256");
      let length = 0;
      req.on("data", (c: Buffer) => {
        hash.update(c);
        length += c.length;
      });
      req.on("end", () => {
        const out = JSON.stringify({ hash: hash.digest("hex"), length, contentLength: req.headers["content-length"] ?? null, transferEncoding: req.headers["transfer-encoding"] ?? null, method: req.method });
        res.writeHead(200, { "content-type": "application/json", "content-length": Buffer.byteLength(out) });
        res.end(out);
      });
    });
  }

  it("passes a POST body with Content-Length byte-identical", async (t) => {
    const up = await echoUpstream(t);
    const front = await startFront(t, up.origin);
    const body = randomBytes(3 * 1024 * 1024 + 11);
    const got = await send(front.port, { method: "POST", path: "/upload", headers: { "content-type": "application/octet-stream", "content-length": String(body.length) }, body });
    assert.equal(got.status, 200);
    const seen = JSON.parse(got.body.toString()) as Record<string, unknown>;
    assert.deepEqual(seen, { hash: sha256(body), length: body.length, contentLength: String(body.length), transferEncoding: null, method: "POST" });
    assert.equal(await outcome(front), undefined);
  });

  it("passes a chunked POST body (Transfer-Encoding: chunked, sent over time) byte-identical", async (t) => {
    const up = await echoUpstream(t);
    const front = await startFront(t, up.origin);
    const parts = [randomBytes(10), randomBytes(70 * 1024), randomBytes(1), randomBytes(300 * 1024)];
    const got = await send(front.port, {
      method: "PUT",
      headers: { "content-type": "application/octet-stream", "transfer-encoding": "chunked" },
      body: (req) => {
        void (async () => {
          for (const p of parts) {
            req.write(p);
            await sleep(30);
          }
          req.end();
        })();
      },
    });
    assert.equal(got.status, 200);
    const seen = JSON.parse(got.body.toString()) as Record<string, unknown>;
    const all = Buffer.concat(parts);
    assert.equal(seen.hash, sha256(all));
    assert.equal(seen.length, all.length);
    assert.equal(seen.method, "PUT");
    // No length was known, so the upstream hop is chunked too (framed by undici, not copied).
    assert.equal(seen.transferEncoding, "chunked");
    assert.equal(await outcome(front), undefined);
  });

  it("passes a POST body sent with Expect: 100-continue (node:http already answered the 100 to the client)", async (t) => {
    const up = await echoUpstream(t);
    const front = await startFront(t, up.origin);
    const body = randomBytes(50_000);
    const got = await new Promise<Got>((resolve, reject) => {
      const req = httpRequest({ host: "127.0.0.1", port: front.port, method: "POST", path: "/", agent: false, headers: { "content-length": String(body.length), expect: "100-continue" } }, (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks), complete: res.complete }));
      });
      req.on("continue", () => req.end(body));
      req.on("error", reject);
    });
    assert.equal(got.status, 200, got.body.toString());
    const seen = JSON.parse(got.body.toString()) as Record<string, unknown>;
    assert.equal(seen.hash, sha256(body));
    assert.equal(up.seen[0]?.headers.expect, undefined);
  });

  it("a GET without a body reaches the upstream without framing headers", async (t) => {
    const up = await echoUpstream(t);
    const front = await startFront(t, up.origin);
    const got = await send(front.port);
    const seen = JSON.parse(got.body.toString()) as Record<string, unknown>;
    assert.equal(seen.length, 0);
    assert.equal(seen.contentLength, null);
    assert.equal(seen.transferEncoding, null);
  });

  it("a client that gives up mid-upload: the upstream's request is closed and forward() settles", async (t) => {
    let upstreamReqClosed = false;
    let received = 0;
    const up = await httpUpstream(t, (req) => {
      req.on("data", (c: Buffer) => (received += c.length));
      req.on("close", () => (upstreamReqClosed = true));
    });
    const front = await startFront(t, up.origin);
    const req = httpRequest({ host: "127.0.0.1", port: front.port, method: "POST", path: "/", agent: false, headers: { "content-length": "1000000" } });
    req.on("error", () => {});
    req.write(randomBytes(100_000));
    await until("the upstream to receive the first part", () => received > 0);
    req.destroy();
    await until("the upstream's request to close", () => upstreamReqClosed, 2000);
    assert.ok(received < 1_000_000);
    assert.ok((await outcome(front, 0, 3000)) instanceof Error);
  });
});

describe("forward: answers without a body", { timeout: 20_000 }, () => {
  for (const length of [12, 500_000]) {
    it(`HEAD: no body, Content-Length ${length} kept`, async (t) => {
      const up = await httpUpstream(t, (req, res) => {
        assert.equal(req.method, "HEAD");
        res.writeHead(200, { "content-type": "text/html", "content-length": length, "x-app": "yes" });
        res.end();
      });
      const front = await startFront(t, up.origin);
      const got = await send(front.port, { method: "HEAD" });
      assert.equal(got.status, 200);
      assert.equal(got.headers["content-length"], String(length));
      assert.equal(got.headers["x-app"], "yes");
      assert.equal(got.body.length, 0);
      // On the wire: the head and nothing after it.
      const raw = Buffer.concat(await rawExchange(front.port, "HEAD / HTTP/1.1\r\nHost: front\r\n\r\n")).toString("latin1");
      assert.ok(raw.endsWith("\r\n\r\n"), JSON.stringify(raw.slice(-40)));
      assert.match(raw, new RegExp(`content-length: ${length}\\r\\n`, "i"));
      assert.equal(await outcome(front), undefined);
      assert.equal(await outcome(front, 1), undefined);
    });
  }

  for (const status of [204, 304]) {
    it(`${status}: the status, headers and no body; the connection stays usable`, async (t) => {
      const up = await httpUpstream(t, (req, res) => {
        if (req.url === "/next") {
          res.writeHead(200, { "content-length": 4 });
          res.end("next");
          return;
        }
        res.writeHead(status, { etag: '"abc"', "x-app": "yes" });
        res.end();
      });
      const front = await startFront(t, up.origin);
      const got = await send(front.port);
      assert.equal(got.status, status);
      assert.equal(got.headers.etag, '"abc"');
      assert.equal(got.headers["x-app"], "yes");
      assert.equal(got.body.length, 0);
      // Two requests on one connection: had a body (or chunk framing) been written, the second answer would be garbled.
      const raw = Buffer.concat(await rawExchange(front.port, `GET / HTTP/1.1\r\nHost: front\r\n\r\nGET /next HTTP/1.1\r\nHost: front\r\n\r\n`)).toString("latin1");
      const answers = raw.split(/(?=HTTP\/1\.1 )/);
      assert.equal(answers.length, 2, raw);
      assert.ok((answers[0] as string).endsWith("\r\n\r\n"), raw);
      assert.match(answers[0] as string, new RegExp(`^HTTP/1\\.1 ${status} `));
      assert.match(answers[1] as string, /^HTTP\/1\.1 200 [^]*\r\n\r\nnext$/);
    });
  }
});

describe("forward: upstream failures", { timeout: 20_000 }, () => {
  it("upstream refuses the connection → forward() rejects → 502", async (t) => {
    const front = await startFront(t, `http://127.0.0.1:${await closedPort()}`);
    const got = await send(front.port);
    assert.equal(got.status, 502);
    assert.equal((JSON.parse(got.body.toString()) as { code: string }).code, "bad_gateway");
    const err = await outcome(front);
    assert.ok(err instanceof Error);
  });

  it("upstream refuses the connection for a request with a body → still a clean 502", async (t) => {
    const front = await startFront(t, `http://127.0.0.1:${await closedPort()}`);
    const body = randomBytes(10_000);
    const got = await send(front.port, { method: "POST", headers: { "content-length": String(body.length) }, body });
    assert.equal(got.status, 502);
    assert.ok((await outcome(front)) instanceof Error);
  });

  it("upstream sends headers then drops the connection mid-body (streamed) → the client's response is cut off, not hung; forward() rejects", async (t) => {
    const origin = await rawUpstream(t, (socket) => {
      socket.write("HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nTransfer-Encoding: chunked\r\n\r\n");
      const part = randomBytes(100 * 1024);
      socket.write(`${part.length.toString(16)}\r\n`);
      socket.write(part);
      socket.write("\r\n", () => setTimeout(() => socket.destroy(), 50));
    });
    const front = await startFront(t, origin);
    const started = Date.now();
    const got = await send(front.port);
    assert.ok(Date.now() - started < 3000);
    assert.equal(got.status, 200);
    assert.equal(got.complete, false);
    assert.ok(got.body.length <= 100 * 1024);
    assert.ok((await outcome(front)) instanceof Error);
  });

  it("upstream drops the connection inside a large Content-Length body → the client's response is cut off; forward() rejects", async (t) => {
    const origin = await rawUpstream(t, (socket) => {
      socket.write("HTTP/1.1 200 OK\r\nContent-Length: 1000000\r\n\r\n");
      socket.write(randomBytes(300_000), () => setTimeout(() => socket.destroy(), 50));
    });
    const front = await startFront(t, origin);
    const got = await send(front.port);
    assert.equal(got.status, 200);
    assert.equal(got.complete, false);
    assert.ok(got.body.length < 1_000_000);
    assert.ok((await outcome(front)) instanceof Error);
  });

  it("upstream drops the connection inside a small (gathered) body → nothing was sent yet, so a clean 502", async (t) => {
    const origin = await rawUpstream(t, (socket) => {
      socket.write("HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n");
      socket.write(randomBytes(400), () => setTimeout(() => socket.destroy(), 50));
    });
    const front = await startFront(t, origin);
    const got = await send(front.port);
    assert.equal(got.status, 502);
    assert.ok(got.complete);
    assert.ok((await outcome(front)) instanceof Error);
  });

  it("upstream answers garbage → 502", async (t) => {
    const origin = await rawUpstream(t, (socket) => socket.end("this is not HTTP\r\n\r\n"));
    const front = await startFront(t, origin);
    const got = await send(front.port);
    assert.equal(got.status, 502);
    assert.ok((await outcome(front)) instanceof Error);
  });
});

describe("forward: timeouts", { timeout: 20_000 }, () => {
  it("no headers within timeoutMs → forward() rejects and the client gets 502, in about timeoutMs", async (t) => {
    const up = await httpUpstream(t, () => {
      /* never answers */
    });
    const front = await startFront(t, up.origin, { timeoutMs: 300 });
    const started = Date.now();
    const got = await send(front.port);
    const took = Date.now() - started;
    assert.equal(got.status, 502);
    assert.ok(took >= 250 && took < 3000, `took ${took} ms`);
    const err = (await outcome(front)) as Error & { code?: string };
    assert.equal(err.code, "UND_ERR_HEADERS_TIMEOUT");
    await until("the upstream's request to be closed", () => up.seen[0]?.closed === true, 2000);
  });

  it("headers, then the body stalls for longer than timeoutMs → the client's response is cut off; forward() rejects", async (t) => {
    const up = await httpUpstream(t, (_req, res) => {
      res.writeHead(200, { "content-type": "text/plain" });
      res.write("a beginning, and then nothing");
    });
    const front = await startFront(t, up.origin, { timeoutMs: 300 });
    const started = Date.now();
    const got = await send(front.port);
    const took = Date.now() - started;
    assert.equal(got.status, 200);
    assert.equal(got.complete, false);
    assert.equal(got.body.toString(), "a beginning, and then nothing");
    assert.ok(took >= 250 && took < 3000, `took ${took} ms`);
    const err = (await outcome(front)) as Error & { code?: string };
    assert.equal(err.code, "UND_ERR_BODY_TIMEOUT");
  });

  it("a slow but steady upstream (each gap shorter than timeoutMs, the whole longer) completes", async (t) => {
    const up = await httpUpstream(t, (_req, res) => {
      res.writeHead(200, { "content-type": "text/plain" });
      let n = 0;
      const tick = setInterval(() => {
        if (++n <= 10) res.write(`${n};`);
        else {
          clearInterval(tick);
          res.end();
        }
      }, 100);
    });
    const front = await startFront(t, up.origin, { timeoutMs: 400 });
    const got = await send(front.port);
    assert.equal(got.status, 200);
    assert.ok(got.complete);
    assert.equal(got.body.toString(), "1;2;3;4;5;6;7;8;9;10;");
    assert.equal(await outcome(front), undefined);
  });
});

describe("forward: the client goes away", { timeout: 20_000 }, () => {
  it("mid-download of a slow stream → the upstream's request is closed within a couple of seconds; forward() settles", async (t) => {
    let ticks = 0;
    const up = await httpUpstream(t, (_req, res) => {
      res.writeHead(200, { "content-type": "application/octet-stream" });
      const tick = setInterval(() => {
        ticks++;
        res.write(randomBytes(1024));
      }, 50);
      res.on("close", () => clearInterval(tick));
    });
    const front = await startFront(t, up.origin);
    await new Promise<void>((resolve, reject) => {
      const req = httpRequest({ host: "127.0.0.1", port: front.port, agent: false }, (res) => {
        res.once("data", () => {
          req.destroy();
          resolve();
        });
      });
      req.on("error", () => {});
      req.on("close", () => reject(new Error("closed before any data")));
      req.end();
    });
    await until("the upstream's response to close", () => up.seen[0]?.closed === true, 2000);
    const stoppedAt = ticks;
    await sleep(200);
    assert.equal(ticks, stoppedAt, "the upstream stopped writing");
    assert.ok((await outcome(front, 0, 2000)) instanceof Error);
  });

  it("while the upstream is paused by backpressure → the upstream's request is closed", async (t) => {
    let state: ReturnType<typeof pump> | undefined;
    const up = await httpUpstream(t, (_req, res) => {
      res.writeHead(200, { "content-type": "application/octet-stream" });
      state = pump(res, 256 * 1024 * 1024);
    });
    const front = await startFront(t, up.origin);
    const req = httpRequest({ host: "127.0.0.1", port: front.port, agent: false }, (res) => res.pause());
    req.on("error", () => {});
    req.end();
    await until("the upstream to wait for drain", () => state?.waiting === true, 10_000);
    await sleep(200);
    req.destroy();
    await until("the upstream's response to close", () => up.seen[0]?.closed === true, 2000);
    assert.ok((await outcome(front, 0, 2000)) instanceof Error);
  });

  it("while waiting for the upstream's headers → the upstream's request is closed", async (t) => {
    const up = await httpUpstream(t, () => {
      /* answers never */
    });
    const front = await startFront(t, up.origin);
    const req = httpRequest({ host: "127.0.0.1", port: front.port, agent: false });
    req.on("error", () => {});
    req.end();
    await until("the upstream to see the request", () => up.seen.length === 1);
    req.destroy();
    await until("the upstream's request to close", () => up.seen[0]?.closed === true, 2000);
    assert.ok((await outcome(front, 0, 2000)) instanceof Error);
  });

  it("while its request still waits for a free upstream connection → the request is never sent", async (t) => {
    const up = await httpUpstream(t, (req, res) => {
      const answer = () => {
        res.writeHead(200, { "content-length": 2 });
        res.end("ok");
      };
      if (req.url === "/slow") setTimeout(answer, 600);
      else answer();
    });
    // One connection to the upstream: the second request queues behind the first.
    const front = await startFront(t, up.origin, { connections: 1 });
    const first = send(front.port, { path: "/slow" });
    await until("the upstream to see /slow", () => up.seen.length === 1);
    const queued = httpRequest({ host: "127.0.0.1", port: front.port, path: "/queued", agent: false });
    queued.on("error", () => {});
    queued.end();
    await until("the front to take /queued", () => front.outcomes.length === 2);
    queued.destroy();
    const got = await first;
    assert.equal(got.body.toString(), "ok");
    await sleep(300);
    assert.deepEqual(up.seen.map((s) => s.url), ["/slow"], "the abandoned request must not reach the upstream");
    assert.ok((await outcome(front, 1, 2000)) instanceof Error);
  });
});

describe("forward: 1xx informational answers", { timeout: 20_000 }, () => {
  it("103 Early Hints before the answer → the client gets the final answer intact", async (t) => {
    const body = Buffer.from(JSON.stringify({ final: true }));
    const up = await httpUpstream(t, (_req, res) => {
      res.writeEarlyHints({ link: "</style.css>; rel=preload; as=style" });
      setTimeout(() => {
        res.writeHead(200, { "content-type": "application/json", "content-length": body.length, "x-app": "yes" });
        res.end(body);
      }, 50);
    });
    const front = await startFront(t, up.origin);
    const got = await send(front.port);
    assert.equal(got.status, 200);
    assert.deepEqual(got.body, body);
    assert.equal(got.headers["x-app"], "yes");
    assert.equal(await outcome(front), undefined);
  });

  // RFC 9110 §15.2 asks a client to accept an unasked 100 too, but undici's HTTP/1.1 client treats a
  // 100 it did not ask for as a broken connection (SocketError "bad response", nodejs/undici#201)
  // and forward() cannot change that. Pinned here so that the failure stays a clean 502, never a
  // hang or a garbled answer; an upstream answers 100 unasked only rarely, as forward() never sends
  // Expect (see the request-body test above).
  it("100 Continue sent unasked: undici refuses it, and the client gets a clean 502 (a known undici limit)", async (t) => {
    const up = await httpUpstream(t, (req, res) => {
      if (req.url === "/hundred") res.writeContinue();
      setTimeout(() => {
        res.writeHead(200, { "content-type": "text/plain", "content-length": 12 });
        res.end("final answer");
      }, 50);
    });
    const front = await startFront(t, up.origin);
    const got = await send(front.port, { path: "/hundred" });
    assert.equal(got.status, 502);
    assert.ok(got.complete);
    const err = (await outcome(front)) as Error & { code?: string };
    assert.equal(err.code, "UND_ERR_SOCKET");
    // The next request through the same front and dispatcher is answered: nothing is left broken.
    const next = await send(front.port, { path: "/plain" });
    assert.equal(next.status, 200);
    assert.equal(next.body.toString(), "final answer");
  });

  it("several 1xx (102, 103, 103) before a streamed answer → the final answer intact, the 1xx headers not mixed in", async (t) => {
    const body = randomBytes(300 * 1024);
    const origin = await rawUpstream(t, (socket) => {
      socket.write("HTTP/1.1 102 Processing\r\n\r\n");
      socket.write("HTTP/1.1 103 Early Hints\r\nLink: </a.js>; rel=preload\r\nX-Hint: one\r\n\r\n");
      socket.write("HTTP/1.1 103 Early Hints\r\nLink: </b.js>; rel=preload\r\n\r\n");
      socket.write(`HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: ${body.length}\r\n\r\n`);
      socket.write(body);
    });
    const front = await startFront(t, origin);
    const got = await send(front.port);
    assert.equal(got.status, 200);
    assert.equal(got.headers["x-hint"], undefined);
    assert.equal(got.headers.link, undefined);
    assert.equal(sha256(got.body), sha256(body));
    assert.equal(await outcome(front), undefined);
  });
});
