/**
 * Reads access-policy files: a file, or a directory walked for `*.yaml` / `*.yml` in name order
 * (so the same tree always yields the same set). Problems carry file and line.
 */
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join, relative } from "node:path";
import { parsePolicyFile, type PolicyProblem, type SourcedPolicy } from "./document.js";

export interface PolicySource {
  /** The name the problems report (relative to where the walk began). */
  file: string;
  text: string;
}

function walk(path: string, out: string[]): void {
  const st = statSync(path);
  if (st.isDirectory()) {
    for (const name of readdirSync(path).sort()) {
      if (name.startsWith(".")) continue;
      walk(join(path, name), out);
    }
  } else if (/\.ya?ml$/i.test(path)) out.push(path);
}

/** The policy files under `paths` (files or directories), as sources. */
export function readPolicySources(paths: string[]): PolicySource[] {
  const files: string[] = [];
  for (const p of paths) {
    const st = statSync(p);
    if (st.isDirectory()) {
      const found: string[] = [];
      walk(p, found);
      files.push(...found.map((f) => f));
    } else files.push(p);
  }
  return files.map((f) => ({ file: relative(process.cwd(), f) || f, text: readFileSync(f, "utf8") }));
}

/** Parses sources; returns the policies and every problem found. */
export function parseSources(sources: PolicySource[]): { policies: SourcedPolicy[]; problems: PolicyProblem[] } {
  const problems: PolicyProblem[] = [];
  const policies: SourcedPolicy[] = [];
  for (const s of sources) policies.push(...parsePolicyFile(s.text, s.file, problems));
  return { policies, problems };
}
