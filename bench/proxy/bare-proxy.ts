/**
 * The peer of bench/proxy.bench.ts: a bare Node reverse proxy that checks nothing. A `node:http`
 * server, in a process of its own like Tenet and the upstream, passing every request to the
 * upstream with Tenet's own forwarding code (src/enforcement/proxy/forward.ts, on an undici Agent
 * kept alive as Tenet's is). No normalisation, cookie, identity, decision, audit or assertion:
 * what a reverse proxy on one Node thread costs at all, so that Tenet's proxy can be compared
 * with it in the same run, not only with the upstream answered directly.
 *   node dist/bench/proxy/bare-proxy.js <upstream URL>
 *     → prints "bare proxy listening on http://127.0.0.1:PORT"
 */
import http from "node:http";
import { Agent } from "undici";
import { forward } from "../../src/enforcement/proxy/forward.js";

// Request headers a proxy does not pass on (RFC 9110 §7.6.1), and Host (undici sets the upstream's).
const DROPPED = new Set(["connection", "keep-alive", "proxy-connection", "te", "trailer", "transfer-encoding", "upgrade", "proxy-authenticate", "proxy-authorization", "host"]);
const TIMEOUT_MS = 30_000;

const arg = process.argv[2] ?? "";
let upstream: URL;
try {
  upstream = new URL(arg);
} catch {
  process.stderr.write(`bare-proxy: the first argument must be the upstream's URL (got ${JSON.stringify(arg)})\n`);
  process.exit(2);
}
const origin = upstream.origin;
const basePath = upstream.pathname.replace(/\/+$/, "");
// The same keep-alive to the upstream as IdentityAwareProxy's dispatcher.
const dispatcher = new Agent({ keepAliveTimeout: 10_000 });
let failures = 0;

const server = http.createServer((req, res) => {
  // Headers named in Connection are hop-by-hop too.
  const named = String(req.headers.connection ?? "").toLowerCase().split(",").map((s) => s.trim());
  const headers: Record<string, string | string[]> = {};
  for (const k in req.headers) {
    const v = req.headers[k];
    if (v !== undefined && !DROPPED.has(k) && !named.includes(k)) headers[k] = v;
  }
  const cl = req.headers["content-length"];
  const hasBody = req.headers["transfer-encoding"] !== undefined || (cl !== undefined && cl !== "0");
  forward({ dispatcher, origin, path: `${basePath}${req.url ?? "/"}`, method: req.method ?? "GET", headers, body: hasBody ? req : null, timeoutMs: TIMEOUT_MS }, res).catch((err: unknown) => {
    // The client went away (autocannon closes its connections at the end of every run): nothing
    // failed, nobody to answer.
    if (res.destroyed) return;
    // Counted by the load generator as failed; a few lines say why without flooding the run.
    if (++failures <= 5) process.stderr.write(`bare-proxy: upstream failed: ${err instanceof Error ? err.message : String(err)}\n`);
    if (!res.headersSent) {
      res.writeHead(502, { "content-type": "text/plain" });
      res.end("bad gateway");
    } else res.destroy();
  });
});
// The same keep-alive as Tenet's server, so that no connection is dropped during a run.
server.keepAliveTimeout = 72_000;

server.listen(0, "127.0.0.1", () => {
  const addr = server.address();
  const port = typeof addr === "object" && addr ? addr.port : 0;
  process.stdout.write(`bare proxy listening on http://127.0.0.1:${port}\n`);
});

const stop = (): void => {
  server.closeAllConnections();
  server.close(() => void dispatcher.close().finally(() => process.exit(0)));
};
process.once("SIGTERM", stop);
process.once("SIGINT", stop);
