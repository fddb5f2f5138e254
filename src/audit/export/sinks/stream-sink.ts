/**
 * JSON lines on a stream (standard output by default): one event per line, as stored, for
 * collectors that read a container's output. A batch is acknowledged once the stream has taken
 * it (the write callback: handed to the pipe or terminal, which is as far as a process can see).
 *
 * Standard output is shared with anything else the process prints there; keep the server's own
 * log on standard error, or tell the collector to keep the lines whose `metadata.log_name` is
 * `tenet-audit`.
 */
import type { Writable } from "node:stream";
import type { AuditRow } from "../../../storage/interfaces.js";
import { DeliveryError, type Sink } from "../sink.js";

export class StreamSink implements Sink {
  readonly type = "stdout" as const;
  private broken: Error | undefined;
  private readonly onError = (err: Error) => {
    // Without a listener a closed pipe (EPIPE) would crash the process.
    this.broken = err;
  };

  constructor(
    readonly name: string,
    private readonly stream: Writable = process.stdout,
  ) {
    stream.on("error", this.onError);
  }

  async deliver(rows: readonly AuditRow[]): Promise<void> {
    if (this.broken) throw new DeliveryError(`standard output is closed (${this.broken.message})`, "stuck");
    let text = "";
    for (const r of rows) text += `${r.event}\n`;
    await new Promise<void>((resolve, reject) => {
      this.stream.write(text, "utf8", (err) => (err ? reject(new DeliveryError(`writing to standard output: ${err.message}`, "retry", undefined, { cause: err })) : resolve()));
    });
  }

  async close(): Promise<void> {
    this.stream.off("error", this.onError);
  }
}
