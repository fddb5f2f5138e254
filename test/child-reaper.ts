/**
 * Child processes a test file started are killed when the file's tests end. A test that fails
 * half-way (one of several servers failing to start, say) would otherwise leave the others
 * running, and their open pipes keep the test file's process, and so the whole run, alive.
 */
import type { ChildProcess } from "node:child_process";
import { after } from "node:test";

const children = new Set<ChildProcess>();

function reap(): void {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill("SIGKILL");
  children.clear();
}

// Registered when this module is first imported, so it is a hook of the file's root test.
after(reap);
process.once("exit", reap);

/** Tracks `child` until it exits; returns it. */
export function reaped<T extends ChildProcess>(child: T): T {
  children.add(child);
  child.once("exit", () => children.delete(child));
  return child;
}
