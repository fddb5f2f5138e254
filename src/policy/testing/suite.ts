/**
 * Runs behaviour tests written as data, in the format of OpenFGA's conformance suites:
 * `tests[].stages[]`, each stage with a model, tuples and check / list-objects / list-users
 * assertions (an expectation or an expected OpenFGA error code). Used by `tenet test` and by
 * Tenet's own conformance tests against every storage adapter.
 */
import { parse as parseYaml } from "yaml";
import { TenetError } from "../../errors.js";
import type { Datastore } from "../../storage/interfaces.js";
import { MemoryDatastore } from "../../storage/memory/memory-datastore.js";
import { PolicyService } from "../service.js";
import type { TupleKey } from "../tuples/tuple.js";

interface CheckAssertion {
  tuple: TupleKey;
  context?: Record<string, unknown>;
  contextualTuples?: TupleKey[];
  expectation?: boolean;
  errorCode?: number;
}

interface ListObjectsAssertion {
  request: { user: string; type: string; relation: string; context?: Record<string, unknown>; contextualTuples?: TupleKey[] };
  context?: Record<string, unknown>;
  contextualTuples?: TupleKey[];
  expectation?: string[];
  errorCode?: number;
}

interface ListUsersAssertion {
  request: { object: string; relation: string; filters: string[]; context?: Record<string, unknown>; contextualTuples?: TupleKey[] };
  context?: Record<string, unknown>;
  contextualTuples?: TupleKey[];
  expectation?: string[];
  errorCode?: number;
}

interface Stage {
  model?: string;
  tuples?: TupleKey[];
  checkAssertions?: CheckAssertion[];
  listObjectsAssertions?: ListObjectsAssertion[];
  listUsersAssertions?: ListUsersAssertion[];
}

interface TestCase {
  name: string;
  stages: Stage[];
}

export interface Failure {
  test: string;
  stage: number;
  assertion: string;
  message: string;
}

export interface SuiteResult {
  passed: number;
  failed: number;
  failures: Failure[];
}

/** What the suite drives: the policy service itself, or a client of Tenet's HTTP API. */
export type SuiteTarget = Pick<PolicyService, "createStore" | "writeModel" | "write" | "check" | "listObjects" | "listUsers">;

export interface SuiteOptions {
  /** A fresh datastore per test case (defaults to in-memory). */
  datastore?: () => Datastore | Promise<Datastore>;
  /** Drive another target instead (e.g. the HTTP API); called once per test case. */
  target?: () => Promise<{ target: SuiteTarget; close: () => Promise<void> }>;
  /** Run only tests whose name matches. */
  filter?: RegExp;
}

export function parseSuite(text: string): TestCase[] {
  let doc: unknown;
  try {
    doc = parseYaml(text, { maxAliasCount: 100 });
  } catch (err) {
    throw new TenetError("validation_error", `test file is not valid YAML: ${(err as Error).message}`, { cause: err });
  }
  const tests = (doc as { tests?: unknown })?.tests;
  if (!Array.isArray(tests)) throw new TenetError("validation_error", "test file must have a top-level 'tests' list");
  for (const [i, t] of tests.entries()) {
    if (typeof t?.name !== "string" || !Array.isArray(t.stages)) {
      throw new TenetError("validation_error", `tests[${i}] needs a name and a list of stages`);
    }
  }
  return tests as TestCase[];
}

const same = (a: string[], b: string[]): boolean => {
  const x = [...new Set(a)].sort();
  const y = [...new Set(b)].sort();
  return x.length === y.length && x.every((v, i) => v === y[i]);
};

/** OpenFGA's numeric code of an error from any target (TenetError, or an HTTP client error). */
function codeOf(err: unknown): number | undefined {
  if (err instanceof TenetError) return err.openfgaCode;
  const c = (err as { openfgaCode?: unknown } | null)?.openfgaCode;
  return typeof c === "number" ? c : undefined;
}

function describeError(err: unknown): string {
  if (err instanceof TenetError) return `error ${err.openfgaCode ?? err.code}: ${err.message}`;
  if (codeOf(err) !== undefined) return `error ${codeOf(err)}: ${(err as Error).message}`;
  return `unexpected ${err instanceof Error ? err.stack ?? err.message : String(err)}`;
}

export async function runSuite(tests: TestCase[], opts: SuiteOptions = {}): Promise<SuiteResult> {
  const result: SuiteResult = { passed: 0, failed: 0, failures: [] };
  for (const test of tests) {
    if (opts.filter && !opts.filter.test(test.name)) continue;
    let svc: SuiteTarget;
    let close: () => Promise<void>;
    if (opts.target) {
      ({ target: svc, close } = await opts.target());
    } else {
      const ds = opts.datastore ? await opts.datastore() : new MemoryDatastore();
      svc = new PolicyService(ds);
      close = () => ds.close();
    }
    try {
      const store = await svc.createStore(test.name.slice(0, 64));
      for (const [si, stage] of test.stages.entries()) {
        const fail = (assertion: string, message: string): void => {
          result.failed++;
          result.failures.push({ test: test.name, stage: si, assertion, message });
        };
        const pass = (): void => void result.passed++;
        let modelId: string | undefined;
        try {
          if (stage.model) modelId = (await svc.writeModel(store.id, stage.model)).id;
          const tuples = stage.tuples ?? [];
          for (let i = 0; i < tuples.length; i += 100) {
            await svc.write(store.id, { writes: tuples.slice(i, i + 100), modelId });
          }
        } catch (err) {
          fail("setup", describeError(err));
          continue;
        }
        const expectOutcome = async (label: string, run: () => Promise<unknown>, expected: unknown, errorCode: number | undefined, eq: (a: unknown, b: unknown) => boolean) => {
          try {
            const got = await run();
            if (errorCode !== undefined) fail(label, `expected error ${errorCode}, got ${JSON.stringify(got)}`);
            else if (!eq(got, expected)) fail(label, `expected ${JSON.stringify(expected)}, got ${JSON.stringify(got)}`);
            else pass();
          } catch (err) {
            const code = codeOf(err);
            if (errorCode !== undefined && code === errorCode) pass();
            else fail(label, `expected ${errorCode !== undefined ? `error ${errorCode}` : JSON.stringify(expected)}, got ${describeError(err)}`);
          }
        };
        for (const a of stage.checkAssertions ?? []) {
          const t = a.tuple;
          await expectOutcome(
            `check ${t.object}#${t.relation}@${t.user}`,
            async () => (await svc.check(store.id, { ...t, context: a.context, contextualTuples: a.contextualTuples, modelId })).allowed,
            a.expectation ?? false,
            a.errorCode,
            (x, y) => x === y,
          );
        }
        for (const a of stage.listObjectsAssertions ?? []) {
          const r = a.request;
          await expectOutcome(
            `listObjects ${r.type}#${r.relation}@${r.user}`,
            () =>
              svc.listObjects(store.id, {
                user: r.user,
                type: r.type,
                relation: r.relation,
                context: a.context ?? r.context,
                contextualTuples: a.contextualTuples ?? r.contextualTuples,
                modelId,
                maxResults: 100_000,
              }),
            a.expectation ?? [],
            a.errorCode,
            (x, y) => same(x as string[], y as string[]),
          );
        }
        for (const a of stage.listUsersAssertions ?? []) {
          const r = a.request;
          const userFilters = (r.filters ?? []).map((f) => {
            const [type, relation] = String(f).split("#");
            return relation ? { type: type!, relation } : { type: type! };
          });
          await expectOutcome(
            `listUsers ${r.object}#${r.relation} [${(r.filters ?? []).join(",")}]`,
            () => svc.listUsers(store.id, { object: r.object, relation: r.relation, userFilters, context: a.context ?? r.context, contextualTuples: a.contextualTuples ?? r.contextualTuples, modelId, maxResults: 100_000 }),
            a.expectation ?? [],
            a.errorCode,
            (x, y) => same(x as string[], y as string[]),
          );
        }
      }
    } finally {
      await close();
    }
  }
  return result;
}
