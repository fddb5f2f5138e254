/**
 * `tenet serve`: runs Tenet embedded. This first cut starts the policy service over the
 * in-memory datastore and a health endpoint; storage (SQLite in TENET_DATA_DIR) and the HTTP
 * APIs are added by the storage and API work.
 */
import { createServer } from "node:http";
import { MemoryDatastore } from "../../storage/memory/memory-datastore.js";
import { PolicyService } from "../../policy/service.js";
import type { Io } from "../main.js";

export async function serveCommand(args: string[], io: Io): Promise<number> {
  const portArg = args.indexOf("--port");
  const port = Number(portArg >= 0 ? args[portArg + 1] : process.env.TENET_PORT ?? 8080);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    io.err("tenet serve: --port must be an integer between 0 and 65535\n");
    return 2;
  }
  const policy = new PolicyService(new MemoryDatastore());
  void policy;
  const server = createServer((req, res) => {
    if (req.url === "/healthz") {
      res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ status: "SERVING" }));
      return;
    }
    res.writeHead(404, { "content-type": "application/json" }).end(JSON.stringify({ code: "not_found", message: "no such route" }));
  });
  await new Promise<void>((resolve) => server.listen(port, "127.0.0.1", resolve));
  const addr = server.address();
  io.out(`tenet listening on http://127.0.0.1:${typeof addr === "object" && addr ? addr.port : port}\n`);
  await new Promise<void>((resolve) => {
    const stop = () => server.close(() => resolve());
    process.once("SIGINT", stop);
    process.once("SIGTERM", stop);
  });
  return 0;
}
