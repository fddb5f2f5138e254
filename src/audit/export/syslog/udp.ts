/**
 * RFC 5426 syslog over UDP: one message per datagram, no framing, no acknowledgement. A batch
 * counts as delivered once the kernel accepted every datagram; what the network drops is lost
 * (that is UDP: use TCP or TLS when every entry must arrive). The socket is connected, so an ICMP
 * "port unreachable" from a receiver that is down fails the next send (ECONNREFUSED) instead of
 * vanishing.
 */
import { createSocket, type Socket } from "node:dgram";
import { lookup } from "node:dns/promises";
import { DeliveryError } from "../sink.js";

export class UdpTransport {
  private socket: Socket | undefined;
  private connecting: Promise<Socket> | undefined;
  private lastError: Error | undefined;

  constructor(
    private readonly host: string,
    private readonly port: number,
  ) {}

  async send(messages: readonly Buffer[], signal: AbortSignal): Promise<void> {
    const socket = await this.connect();
    try {
      for (const m of messages) {
        signal.throwIfAborted();
        await new Promise<void>((resolve, reject) => socket.send(m, (err) => (err ? reject(err) : resolve())));
      }
    } catch (err) {
      this.reset();
      // Too long for a datagram: sending it again will not help (lower maxMessageBytes).
      const failure = (err as NodeJS.ErrnoException).code === "EMSGSIZE" ? "stuck" : "retry";
      throw new DeliveryError(`syslog udp://${this.host}:${this.port}: ${(err as Error).message}`, failure, undefined, { cause: err });
    }
    // An ICMP error that arrived for an earlier datagram is reported on the socket.
    if (this.lastError) {
      const err = this.lastError;
      this.reset();
      throw new DeliveryError(`syslog udp://${this.host}:${this.port}: ${err.message}`, "retry", undefined, { cause: err });
    }
  }

  async close(): Promise<void> {
    this.reset();
  }

  private connect(): Promise<Socket> {
    if (this.socket) return Promise.resolve(this.socket);
    this.connecting ??= (async () => {
      try {
        const { address, family } = await lookup(this.host);
        const socket = createSocket(family === 6 ? "udp6" : "udp4");
        socket.on("error", (err) => {
          this.lastError = err;
        });
        await new Promise<void>((resolve, reject) => {
          socket.once("error", reject);
          socket.connect(this.port, address, () => {
            socket.off("error", reject);
            resolve();
          });
        });
        socket.unref();
        this.lastError = undefined;
        this.socket = socket;
        return socket;
      } catch (err) {
        throw new DeliveryError(`syslog udp://${this.host}:${this.port}: ${(err as Error).message}`, "retry", undefined, { cause: err });
      } finally {
        this.connecting = undefined;
      }
    })();
    return this.connecting;
  }

  private reset(): void {
    const s = this.socket;
    this.socket = undefined;
    this.lastError = undefined;
    if (s) {
      try {
        s.close();
      } catch {
        // already closed
      }
    }
  }
}
