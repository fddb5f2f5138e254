/**
 * Who is acting, for the audit records of changes. The API layer runs each changing request
 * with its authenticated principal (`withActor`); domain operations deep below read it
 * (`currentActor`) without every signature having to carry it. Outside a request (CLI, start-up
 * jobs) the actor is what the caller set, or `system`.
 *
 * On Node 20 an enabled AsyncLocalStorage installs promise hooks that every promise of the
 * process then pays for — the proxy's requests included, though they never change anything. So
 * the storage is enabled only while a changing request runs, and disabled again when the last one
 * has settled.
 */
import { AsyncLocalStorage } from "node:async_hooks";

const storage = new AsyncLocalStorage<string>();
let running = 0;

function settled(): void {
  if (--running === 0) storage.disable();
}

export function withActor<T>(actor: string, fn: () => T): T {
  running++;
  let result: T;
  try {
    result = storage.run(actor, fn);
  } catch (err) {
    settled();
    throw err;
  }
  if (result instanceof Promise) return result.finally(settled) as T;
  settled();
  return result;
}

export function currentActor(): string {
  return storage.getStore() ?? "system";
}
