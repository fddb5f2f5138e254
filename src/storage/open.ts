/**
 * Opens the configured Datastore: PostgreSQL when a `postgres://` (or `postgresql://`) URL is
 * set, otherwise the embedded SQLite file `<dataDir>/tenet.db`. The adapter is loaded only when
 * chosen, so a SQLite deployment never loads `pg` and a PostgreSQL one never loads the native
 * SQLite module. Failures are StorageErrors with a message that says what to fix.
 */
import { closeSync, mkdirSync, openSync } from "node:fs";
import { join } from "node:path";
import { StorageError } from "./errors.js";
import type { Datastore } from "./interfaces.js";

export interface OpenDatastoreConfig {
  databaseUrl?: string | undefined;
  dataDir: string;
}

export const SQLITE_FILE_NAME = "tenet.db";

export async function openDatastore(config: OpenDatastoreConfig): Promise<Datastore> {
  const url = config.databaseUrl;
  if (url !== undefined && url !== "") {
    if (!/^postgres(ql)?:\/\//i.test(url)) {
      // Only the scheme is repeated: the URL may hold a password.
      const scheme = /^([a-z][a-z0-9+.-]*):/i.exec(url)?.[1] ?? "(none)";
      throw new StorageError("unavailable", `unsupported database URL scheme '${scheme}': use postgres://..., or unset the database URL to use SQLite in the data directory`);
    }
    const { PostgresDatastore } = await import("./postgres/postgres-datastore.js");
    return PostgresDatastore.open({ connectionString: url });
  }
  if (typeof config.dataDir !== "string" || config.dataDir === "") throw new TypeError("dataDir must be a non-empty path");
  try {
    mkdirSync(config.dataDir, { recursive: true, mode: 0o700 });
  } catch (err) {
    throw new StorageError("not_writable", `cannot create the data directory ${config.dataDir}: ${(err as Error).message}`, { cause: err });
  }
  const file = join(config.dataDir, SQLITE_FILE_NAME);
  try {
    // Create it owner-only before SQLite does (with the umask's mode): it will hold secrets, and
    // SQLite gives its -wal and -shm files the database file's permissions.
    closeSync(openSync(file, "a", 0o600));
  } catch (err) {
    throw new StorageError("not_writable", `cannot create the database ${file}: ${(err as Error).message}`, { cause: err });
  }
  const { SqliteDatastore } = await import("./sqlite/sqlite-datastore.js");
  return SqliteDatastore.open(file);
}
