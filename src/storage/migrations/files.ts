/**
 * Loads the numbered SQL migrations of one dialect (`src/storage/migrations/<dialect>/0001_x.sql`)
 * and checks they are numbered 1, 2, 3, ... without gaps. The .sql files are the only copy: they
 * are read beside this module when run from source, and from the source tree when run from dist/
 * (tsc does not copy them).
 */
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { StorageError } from "../errors.js";

export interface Migration {
  version: number;
  name: string;
  sql: string;
}

const FILE = /^(\d{4})_([a-z0-9_]+)\.sql$/;
const cache = new Map<string, Migration[]>();

export function loadMigrations(dialect: "sqlite" | "postgres", label: string): Migration[] {
  const cached = cache.get(dialect);
  if (cached) return cached;
  const locations = [`./${dialect}/`, `../../../../src/storage/migrations/${dialect}/`];
  const dir = locations.map((l) => new URL(l, import.meta.url)).find((u) => existsSync(u));
  if (!dir) {
    throw new StorageError("migration_failed", `${label} migration files not found (looked in ${locations.map((l) => fileURLToPath(new URL(l, import.meta.url))).join(", ")})`);
  }
  const migrations = readdirSync(dir)
    .map((f) => FILE.exec(f))
    .filter((m): m is RegExpExecArray => m !== null)
    .map((m) => ({ version: Number(m[1]), name: m[2]!, sql: readFileSync(new URL(m[0], dir), "utf8") }))
    .sort((a, b) => a.version - b.version);
  migrations.forEach((m, i) => {
    if (m.version !== i + 1) {
      throw new StorageError("migration_failed", `${label} migrations must be numbered 1, 2, 3, ... without gaps; found ${m.version} at position ${i + 1}`);
    }
  });
  cache.set(dialect, migrations);
  return migrations;
}
