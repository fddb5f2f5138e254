/**
 * Start-up helpers of the long-running commands (`tenet serve`, `--roles proxy`).
 *
 * `--port 0` for servers that must know their URL before they listen (the identity provider's
 * issuer, the proxy's assertion issuer): a free port, kept bound until released just before the
 * real server listens on it, so another process asking for a free port meanwhile is not given it.
 */
import { createServer } from "node:net";

export function holdFreePort(host: string): Promise<{ port: number; release: () => Promise<void> }> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once("error", reject);
    srv.listen(0, host, () => {
      const a = srv.address();
      const port = typeof a === "object" && a ? a.port : 0;
      let released: Promise<void> | null = null;
      resolve({ port, release: () => (released ??= new Promise<void>((r) => srv.close(() => r()))) });
    });
  });
}

/**
 * Resolves on the first SIGINT or SIGTERM. Installed before a server listens, so a stop that
 * arrives at any moment drains requests and closes storage instead of killing the process.
 */
export function stopSignal(): Promise<void> {
  return new Promise<void>((resolve) => {
    process.once("SIGINT", () => resolve());
    process.once("SIGTERM", () => resolve());
  });
}
