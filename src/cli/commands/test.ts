/**
 * `tenet test FILE...`: runs YAML behaviour tests, one summary line per file: OpenFGA-format model
 * tests against the engine, and access-policy tests (`kind: AccessPolicyTest`) against the
 * decision point.
 */
import { readFile } from "node:fs/promises";
import { isAccessPolicyTest, runAccessPolicyTests } from "../../policy/access/testing.js";
import { parseSuite, runSuite } from "../../policy/testing/suite.js";
import type { Io } from "../main.js";

export async function testCommand(args: string[], io: Io): Promise<number> {
  const verbose = args.includes("--verbose") || args.includes("-v");
  const files = args.filter((a) => !a.startsWith("-"));
  if (files.length === 0) {
    io.err("usage: tenet test [--verbose] FILE...\n");
    return 2;
  }
  let anyFailed = false;
  for (const file of files) {
    let text: string;
    try {
      text = await readFile(file, "utf8");
    } catch (err) {
      io.err(`${file}: cannot read: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}\n`);
      anyFailed = true;
      continue;
    }
    if (isAccessPolicyTest(text)) {
      try {
        const r = await runAccessPolicyTests(text, file);
        for (const f of r.failures) io.out(`FAIL ${file}: ${f.test}: ${f.message}\n`);
        io.out(`${file}: ${r.passed} passed, ${r.failed} failed\n`);
        if (r.failed > 0) anyFailed = true;
      } catch (err) {
        io.out(`${file}: 0 passed, 1 failed\n`);
        io.err(`${file}: ${(err as Error).message}\n`);
        anyFailed = true;
      }
      continue;
    }
    try {
      const r = await runSuite(parseSuite(text));
      for (const f of r.failures) {
        io.out(`FAIL ${file}: ${f.test} (stage ${f.stage + 1}) ${f.assertion}: ${f.message}\n`);
      }
      if (verbose && r.failures.length === 0) io.out(`ok ${file}\n`);
      io.out(`${file}: ${r.passed} passed, ${r.failed} failed\n`);
      if (r.failed > 0) anyFailed = true;
    } catch (err) {
      io.out(`${file}: 0 passed, 1 failed\n`);
      io.err(`${file}: ${(err as Error).message}\n`);
      anyFailed = true;
    }
  }
  return anyFailed ? 1 : 0;
}
