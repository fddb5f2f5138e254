/**
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
