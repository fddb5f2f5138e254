/**
 * Integration: a real node:http server, raw bytes over a net.Socket. It pins down the split described
 * at the top of src/enforcement/normalize.ts: what Node 20's parser (llhttp) refuses on its own — the
 * request handler never runs — and what reaches the handler and is refused (or cleaned) only by
 * normalizeRequest. If a Node upgrade changes the first list, this test says so.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import http from "node:http";
import net, { type AddressInfo } from "node:net";
import { normalizeRequest } from "../../src/enforcement/normalize.js";

let server: http.Server;
let port = 0;
let handled = 0;

before(async () => {
  server = http.createServer((req, res) => {
    handled++;
    const result = normalizeRequest({
      method: req.method ?? "",
      url: req.url ?? "",
      headers: req.headers,
      rawHeaders: req.rawHeaders,
      httpVersion: req.httpVersion,
    });
    const body = JSON.stringify(result.ok ? { ok: true, stripped: result.request.stripped, headers: result.request.headers, path: result.request.path } : result.rejection);
    res.writeHead(result.ok ? 200 : result.rejection.status, { "content-type": "application/json", "content-length": Buffer.byteLength(body), connection: "close" });
    res.end(body);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  port = (server.address() as AddressInfo).port;
});
after(() => new Promise<void>((resolve) => server.close(() => resolve())));

/** Sends raw bytes, returns the status code and body of the first response. */
function send(bytes: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, "127.0.0.1");
    let data = "";
    const timer = setTimeout(() => socket.destroy(new Error(`no response to ${JSON.stringify(bytes)}: ${data}`)), 5000);
    socket.setEncoding("latin1");
    socket.on("data", (chunk: string) => (data += chunk));
    socket.on("error", (err) => {
      clearTimeout(timer);
      reject(err);
    });
    socket.on("close", () => {
      clearTimeout(timer);
      const m = /^HTTP\/1\.[01] (\d{3})/.exec(data);
      if (m === null) return reject(new Error(`not an HTTP response: ${JSON.stringify(data)}`));
      resolve({ status: Number(m[1]), body: data.slice(data.indexOf("\r\n\r\n") + 4) });
    });
    socket.write(bytes, "latin1");
  });
}

const req = (head: string, body = ""): string => head.replace(/\n/g, "\r\n") + "\r\n" + body;

describe("Node's own HTTP parser refuses these before normalizeRequest runs", () => {
  const cases: [string, string][] = [
    ["Content-Length + Transfer-Encoding", req("POST / HTTP/1.1\nHost: a.example\nContent-Length: 3\nTransfer-Encoding: chunked\n", "0\r\n\r\n")],
    ["Content-Length: 5, 6", req("POST / HTTP/1.1\nHost: a.example\nContent-Length: 5, 6\n", "hello")],
    ["Content-Length: 5, 5 (stricter than RFC 9110 §8.6 requires)", req("POST / HTTP/1.1\nHost: a.example\nContent-Length: 5, 5\n", "hello")],
    ["two Content-Length lines", req("POST / HTTP/1.1\nHost: a.example\nContent-Length: 5\nContent-Length: 6\n", "hello")],
    ["Content-Length: +5", req("POST / HTTP/1.1\nHost: a.example\nContent-Length: +5\n", "hello")],
    ["Transfer-Encoding: chunked, identity", req("POST / HTTP/1.1\nHost: a.example\nTransfer-Encoding: chunked, identity\n", "0\r\n\r\n")],
    ["two Transfer-Encoding lines", req("POST / HTTP/1.1\nHost: a.example\nTransfer-Encoding: chunked\nTransfer-Encoding: chunked\n", "0\r\n\r\n")],
    ["Transfer-Encoding with a vertical tab", req("POST / HTTP/1.1\nHost: a.example\nTransfer-Encoding: \u000bchunked\n", "0\r\n\r\n")],
    ["obsolete line folding (RFC 9112 §5.2)", req("GET / HTTP/1.1\nHost: a.example\nX-A: b\n c\n")],
    ["whitespace before the colon (RFC 9112 §5.1)", req("GET / HTTP/1.1\nHost : a.example\n")],
    ["lower-case method", req("get / HTTP/1.1\nHost: a.example\n")],
    ["missing Host in HTTP/1.1 (requireHostHeader)", req("GET / HTTP/1.1\n")],
    ["header section over 16 KiB", req(`GET / HTTP/1.1\nHost: a.example\nX-Big: ${"a".repeat(17 * 1024)}\n`)],
  ];
  for (const [name, bytes] of cases) {
    it(name, async () => {
      const before = handled;
      const res = await send(bytes);
      assert.ok(res.status === 400 || res.status === 431, `status ${res.status}`);
      assert.equal(handled, before, "the request handler must not have run");
    });
  }
});

describe("these reach the handler and only normalizeRequest refuses or cleans them", () => {
  const cases: [string, string, number, string][] = [
    ["duplicate Host", req("GET / HTTP/1.1\nHost: a.example\nHost: evil.example\n"), 400, "duplicate_host"],
    ["Host with userinfo", req("GET / HTTP/1.1\nHost: a.example@evil.example\n"), 400, "bad_host"],
    ["encoded dot-dot", req("GET /%2e%2e/etc/passwd HTTP/1.1\nHost: a.example\n"), 400, "bad_path"],
    ["encoded NUL", req("GET /a%00b HTTP/1.1\nHost: a.example\n"), 400, "bad_path"],
    ["backslash", req("GET /\\evil HTTP/1.1\nHost: a.example\n"), 400, "bad_path"],
    ["double encoding", req("GET /%252e%252e/ HTTP/1.1\nHost: a.example\n"), 400, "bad_path"],
    ["TRACE", req("TRACE / HTTP/1.1\nHost: a.example\n"), 405, "method_not_allowed"],
    ["Transfer-Encoding: xchunked", req("POST / HTTP/1.1\nHost: a.example\nTransfer-Encoding: xchunked\n", "0\r\n\r\n"), 400, "bad_transfer_encoding"],
    ["Transfer-Encoding: gzip, chunked", req("POST / HTTP/1.1\nHost: a.example\nTransfer-Encoding: gzip, chunked\n", "0\r\n\r\n"), 501, "unsupported_transfer_encoding"],
    ["Transfer-Encoding in HTTP/1.0", req("POST / HTTP/1.0\nHost: a.example\nTransfer-Encoding: chunked\n", "0\r\n\r\n"), 400, "bad_transfer_encoding"],
    ["Connection: authorization", req("GET / HTTP/1.1\nHost: a.example\nConnection: close, authorization\nAuthorization: Bearer x\n"), 400, "bad_connection"],
  ];
  for (const [name, bytes, status, code] of cases) {
    it(name, async () => {
      const before = handled;
      const res = await send(bytes);
      assert.equal(handled, before + 1, "the request handler must have run");
      assert.equal(res.status, status, res.body);
      assert.equal((JSON.parse(res.body) as { code: string }).code, code);
    });
  }

  it("spoofed identity headers are stripped and reported; the path is normalised", async () => {
    const res = await send(
      req("GET //a/./b/../c HTTP/1.1\nHost: A.Example.\nX-Tenet-User: admin\nX-Forwarded-User: admin\nx-auth-request-email: a@b\nConnection: close, X-Secret\nX-Secret: 1\nAccept: */*\n"),
    );
    assert.equal(res.status, 200, res.body);
    const body = JSON.parse(res.body) as { stripped: string[]; headers: Record<string, string>; path: string };
    assert.equal(body.path, "/a/c");
    assert.deepEqual(body.stripped.sort(), ["x-auth-request-email", "x-forwarded-user", "x-tenet-user"]);
    assert.deepEqual(body.headers, { host: "a.example", accept: "*/*" });
  });
});
