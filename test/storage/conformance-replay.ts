/**
 * Runs a behaviour suite against a persistent datastore so that the engine really reads tuples
 * back from it. runSuite's PolicyService indexes tuples as it writes them, so on its own it
 * checks the write path only. Here the suite runs once as usual, then the last stage of every
 * test case runs again in the same store (no new model, no new tuples) with a fresh service,
 * whose engine loads every tuple, condition and context through `allTuples`. Both runs must
 * pass. Stages accumulate tuples, so the store holds exactly what the last stage saw.
 */
import { parseSuite, runSuite, type SuiteResult } from "../../src/policy/testing/suite.js";
import type { Datastore, StoreRecord } from "../../src/storage/interfaces.js";

type TestCase = ReturnType<typeof parseSuite>[number];

/** `ds` for one test case: close() leaves the shared datastore open; createStore may be replaced. */
function borrow(ds: Datastore, createStore?: (name: string) => Promise<StoreRecord>): Datastore {
  return new Proxy(ds, {
    get(target, prop) {
      if (prop === "close") return async () => undefined;
      if (prop === "createStore" && createStore) return createStore;
      const value: unknown = Reflect.get(target, prop, target);
      return typeof value === "function" ? (value as (...args: unknown[]) => unknown).bind(target) : value;
    },
  });
}

export async function runSuiteAndReload(tests: TestCase[], shared: Datastore): Promise<{ written: SuiteResult; reloaded: SuiteResult }> {
  const stores: StoreRecord[] = [];
  const written = await runSuite(tests, {
    datastore: () =>
      borrow(shared, async (name) => {
        const s = await shared.createStore(name);
        stores.push(s);
        return s;
      }),
  });
  const lastStages = tests.map((t): TestCase => {
    const last = t.stages[t.stages.length - 1];
    if (!last) return { name: t.name, stages: [] };
    const { model: _model, tuples: _tuples, ...assertions } = last;
    return { name: t.name, stages: [assertions] };
  });
  let next = 0;
  const reloaded = await runSuite(lastStages, {
    datastore: () =>
      borrow(shared, async () => {
        const s = stores[next++];
        if (!s) throw new Error("more test cases on reload than stores written");
        return s;
      }),
  });
  return { written, reloaded };
}

export function failureReport(r: SuiteResult): string {
  return r.failures.map((f) => `${f.test} [stage ${f.stage}] ${f.assertion}: ${f.message}`).join("\n");
}
