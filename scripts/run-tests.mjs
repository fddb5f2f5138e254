#!/usr/bin/env node
// Runs every compiled test file (dist/test/**/*.test.js) with Node's built-in runner.
// Node 20's `node --test` has no glob support, so the list is built here.
import { readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { spawnSync } from "node:child_process";

function find(dir, out = []) {
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) find(p, out);
    else if (name.endsWith(".test.js")) out.push(p);
  }
  return out;
}

const filter = process.argv[2];
const files = find("dist/test").filter((f) => !filter || f.includes(filter)).sort();
if (files.length === 0) {
  console.error("no test files found under dist/test (did the build run?)");
  process.exit(1);
}
// A test (or a whole file: Node applies the timeout to each file's run too) that hangs fails
// after 10 minutes instead of holding the run until CI's own limit kills it with no report.
const r = spawnSync(process.execPath, ["--test", "--test-concurrency=2", "--test-timeout=600000", ...files], { stdio: "inherit" });
process.exit(r.status ?? 1);
