/**
 * Allow lists, deny lists and threat feeds: files of one CIDR range or address per line, IPv4
 * or IPv6, with `#` comments (and `;` comments, as in Spamhaus DROP) and blank lines ignored.
 *
 * Loading never throws for a bad file: it reports what is wrong (file, line, problem) and keeps
 * the lines it could read. A list that could not be loaded completely is marked `degraded`, and
 * the ip_reputation signal then adds a caution: a missing or damaged feed must make the engine
 * more cautious, never less.
 */
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import type { RiskConfig } from "./config.js";
import { parseCidr } from "./ip.js";
import { IpRangeTable, type RangeEntry } from "./ip-range-table.js";
import type { LoadProblem } from "./types.js";

/** Malformed lines reported per file before the rest are summed up in one problem. */
const MAX_LINE_PROBLEMS = 20;

/** Parses list text; each entry's value is `cidr (file line n)` for reasons. */
export function parseIpListText(text: string, file: string, problems: LoadProblem[]): RangeEntry<string>[] {
  const entries: RangeEntry<string>[] = [];
  let bad = 0;
  const lines = text.split("\n");
  for (let i = 0; i < lines.length; i++) {
    let line = lines[i] as string;
    const hash = line.indexOf("#");
    if (hash !== -1) line = line.slice(0, hash);
    const semi = line.indexOf(";");
    if (semi !== -1) line = line.slice(0, semi);
    line = line.trim();
    if (line === "") continue;
    const range = parseCidr(line);
    if (range === undefined) {
      if (++bad <= MAX_LINE_PROBLEMS) {
        const shown = line.length > 60 ? `${line.slice(0, 60)}…` : line;
        problems.push({ file, line: i + 1, problem: `not an IP address or CIDR range: ${JSON.stringify(shown)}` });
      }
      continue;
    }
    entries.push({ range, value: `${line}, ${file} line ${i + 1}` });
  }
  if (bad > MAX_LINE_PROBLEMS) problems.push({ file, problem: `${bad - MAX_LINE_PROBLEMS} more malformed lines not listed` });
  return entries;
}

export interface LoadedList {
  /** The source's name in reasons (a feed's name, or "deny list"). */
  name: string;
  table: IpRangeTable<string>;
  /** Loaded incompletely or not at all; the sentence says why. */
  degraded?: string;
}

/** Reads list files (and inline entries) into one table; problems are appended to `problems`. */
export function loadIpList(name: string, files: readonly string[], inline: readonly string[], baseDir: string, problems: LoadProblem[]): LoadedList {
  const entries: RangeEntry<string>[] = [];
  for (const text of inline) {
    const range = parseCidr(text.trim());
    // The schema has checked inline entries already; skipping keeps this total.
    if (range !== undefined) entries.push({ range, value: `${text.trim()}, configuration` });
  }
  const degraded: string[] = [];
  for (const f of files) {
    const path = resolve(baseDir, f);
    const before = problems.length;
    let text: string;
    try {
      text = readFileSync(path, "utf8");
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code ?? (err as Error).message;
      problems.push({ file: path, problem: `cannot read the file (${code})` });
      degraded.push(`${path} cannot be read`);
      continue;
    }
    const got = parseIpListText(text, path, problems);
    const bad = problems.length - before;
    if (got.length === 0 && bad === 0) {
      // A feed download that produced an empty file looks exactly like "nothing is bad".
      problems.push({ file: path, problem: "the file has no entries" });
      degraded.push(`${path} has no entries`);
    } else if (bad > 0) {
      degraded.push(`${path} has malformed lines`);
    }
    for (const e of got) entries.push(e);
  }
  const list: LoadedList = { name, table: new IpRangeTable(entries) };
  if (degraded.length > 0) list.degraded = degraded.join(", ");
  return list;
}

export interface IpReputationLists {
  allow: LoadedList;
  deny: LoadedList;
  feeds: { list: LoadedList; score: number }[];
}

/** Loads every list the configuration names. */
export function loadIpReputationLists(config: RiskConfig, baseDir: string, problems: LoadProblem[]): IpReputationLists {
  const c = config.ipReputation;
  return {
    allow: loadIpList("allow list", c.allowFiles, c.allow, baseDir, problems),
    deny: loadIpList("deny list", c.denyFiles, c.deny, baseDir, problems),
    feeds: c.feeds.map((f) => ({ list: loadIpList(`threat feed ${f.name}`, [f.file], [], baseDir, problems), score: f.score ?? c.scores.feed })),
  };
}
