/**
 * A JIT service over a real SQLite datastore and policy service, with a model that has users with
 * managers, groups, and a `doc` whose `editor` accepts JIT grants (its `reader` does not), and a
 * clock the test moves.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { JitService, type JitServiceOptions } from "../../../src/policy/jit/service.js";
import { JIT_GRANT_CONDITION_DSL } from "../../../src/policy/jit/condition.js";
import { Outbox } from "../../../src/policy/jit/outbox.js";
import type { WebhookEndpoint } from "../../../src/policy/jit/endpoints.js";
import { PolicyService } from "../../../src/policy/service.js";
import type { Datastore } from "../../../src/storage/interfaces.js";
import { openDatastore } from "../../../src/storage/open.js";

export const MODEL = `model
  schema 1.1
type user
  relations
    define manager: [user]
type group
  relations
    define member: [user, group#member]
type doc
  relations
    define editor: [user, user with tenet_jit_grant]
    define reader: [user]
${JIT_GRANT_CONDITION_DSL}
`;

export const T0 = Date.parse("2026-03-02T09:00:00.000Z");

export interface Fixture {
  ds: Datastore;
  policy: PolicyService;
  storeId: string;
  outbox: Outbox;
  jit: JitService;
  clock: { now: number };
  /** Moves the clock on by `ms`. */
  advance(ms: number): void;
  /** Check `doc#relation@user` at the clock's time (or `at`). */
  can(user: string, relation: string, object: string, at?: number): Promise<boolean>;
  close(): Promise<void>;
}

export async function setup(opts: { endpoints?: WebhookEndpoint[]; jit?: Partial<JitServiceOptions> } = {}): Promise<Fixture> {
  const dir = mkdtempSync(join(tmpdir(), "tenet-jit-test-"));
  const ds = await openDatastore({ dataDir: dir });
  const policy = new PolicyService(ds);
  const store = await policy.createStore("jit");
  await policy.writeModel(store.id, MODEL);
  await policy.write(store.id, {
    writes: [
      { object: "group:sre", relation: "member", user: "user:carol" },
      { object: "group:sre", relation: "member", user: "user:dave" },
      { object: "group:sre", relation: "member", user: "user:anne" },
      { object: "user:anne", relation: "manager", user: "user:mia" },
    ],
  });
  const clock = { now: T0 };
  const now = () => clock.now;
  const outbox = new Outbox(ds, { endpoints: opts.endpoints ?? [], now });
  const jit = new JitService({ documents: ds, policy, outbox, now, ...opts.jit });
  return {
    ds,
    policy,
    storeId: store.id,
    outbox,
    jit,
    clock,
    advance: (ms) => {
      clock.now += ms;
    },
    can: async (user, relation, object, at) =>
      (await policy.check(store.id, { object, relation, user, context: { current_time: new Date(at ?? clock.now).toISOString() } })).allowed,
    close: async () => {
      jit.stop();
      await ds.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Asserts that `fn` rejects with a TenetError of `code`; returns it. */
export async function rejectsCode(fn: () => Promise<unknown>, code: string, message?: RegExp): Promise<Error & { code: string }> {
  try {
    await fn();
  } catch (err) {
    const e = err as Error & { code: string };
    if (e.code !== code) throw new Error(`expected error code ${code}, got ${e.code}: ${e.message}`);
    if (message && !message.test(e.message)) throw new Error(`message ${JSON.stringify(e.message)} does not match ${message}`);
    return e;
  }
  throw new Error(`expected error code ${code}, but it resolved`);
}
