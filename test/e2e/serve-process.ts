/** Starts `tenet serve` as a child process (the way users run it) and waits until it listens. */
import { type ChildProcess, spawn } from "node:child_process";
import { reaped } from "../child-reaper.js";

const bin = new URL("../../../bin/tenet.js", import.meta.url).pathname;

export interface ServeProcess {
  url: string;
  child: ChildProcess;
  output: () => string;
  stop: (signal?: NodeJS.Signals) => Promise<number | null>;
}

export function startServe(env: NodeJS.ProcessEnv, args: string[] = ["--port", "0"], timeoutMs = 20_000): Promise<ServeProcess> {
  return new Promise((resolve, reject) => {
    const child = reaped(
      spawn(process.execPath, [bin, "serve", ...args], {
        env: { ...process.env, TENET_LOG_LEVEL: "warn", ...env },
        stdio: ["ignore", "pipe", "pipe"],
      }),
    );
    let out = "";
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`tenet serve did not start in ${timeoutMs} ms:\n${out}`));
    }, timeoutMs);
    const exited = new Promise<number | null>((r) => child.once("exit", (code) => r(code)));
    const onData = (d: Buffer) => {
      out += d.toString();
      const m = /tenet listening on (http:\/\/\S+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve({
          url: m[1]!,
          child,
          output: () => out,
          stop: async (signal = "SIGTERM") => {
            if (child.exitCode === null && child.signalCode === null) child.kill(signal);
            return exited;
          },
        });
      }
    };
    child.stdout!.on("data", onData);
    child.stderr!.on("data", (d: Buffer) => (out += d.toString()));
    child.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`tenet serve exited with ${code} before listening:\n${out}`));
    });
  });
}
