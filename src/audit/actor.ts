/**
 * Who is acting, for the audit records of changes. The API layer runs each changing request
 * with its authenticated principal (`withActor`); domain operations deep below read it
 * (`currentActor`) without every signature having to carry it. Outside a request (CLI, start-up
 * jobs) the actor is what the caller set, or `system`.
 */
import { AsyncLocalStorage } from "node:async_hooks";

const storage = new AsyncLocalStorage<string>();

export function withActor<T>(actor: string, fn: () => T): T {
  return storage.run(actor, fn);
}

export function currentActor(): string {
  return storage.getStore() ?? "system";
}
