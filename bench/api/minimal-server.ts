/**
 * The ceiling for the API benchmark: a bare `node:http` server, in its own process like Tenet,
 * that reads each request's body and answers a fixed Check response. No routing, parsing,
 * validation or authentication: what one Node thread can answer at all under the same load.
 *   node dist/bench/api/minimal-server.js   → prints "minimal listening on http://127.0.0.1:PORT"
 */
import http from "node:http";

const body = Buffer.from(JSON.stringify({ allowed: true, resolution: "" }));
const headers = { "content-type": "application/json; charset=utf-8", "content-length": String(body.length) };

const server = http.createServer((req, res) => {
  req.on("data", () => undefined);
  req.on("end", () => {
    res.writeHead(200, headers);
    res.end(body);
  });
});
// The same keep-alive as Tenet's server, so that no connection is dropped during a run.
server.keepAliveTimeout = 72_000;

server.listen(0, "127.0.0.1", () => {
  const addr = server.address();
  const port = typeof addr === "object" && addr ? addr.port : 0;
  process.stdout.write(`minimal listening on http://127.0.0.1:${port}\n`);
});

const stop = (): void => {
  server.closeAllConnections();
  server.close(() => process.exit(0));
};
process.once("SIGTERM", stop);
process.once("SIGINT", stop);
