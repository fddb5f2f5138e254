/** Opens the configured datastore for a CLI command, reporting storage failures plainly. */
import { loadConfig, type Config } from "../../config/config.js";
import { isStorageError } from "../../storage/errors.js";
import type { Datastore } from "../../storage/interfaces.js";
import { openDatastore } from "../../storage/open.js";
import type { Io } from "../main.js";
import { flagValue } from "./flags.js";

export async function openConfigured(args: string[], io: Io, command: string): Promise<{ ds: Datastore; config: Config } | undefined> {
  const overrides: Record<string, string> = {};
  const dataDir = flagValue(args, "--data-dir");
  if (dataDir !== undefined) overrides.dataDir = dataDir;
  const config = loadConfig(process.env, overrides);
  try {
    const ds = await openDatastore(config.databaseUrl ? { dataDir: config.dataDir, databaseUrl: config.databaseUrl } : { dataDir: config.dataDir });
    return { ds, config };
  } catch (err) {
    if (isStorageError(err)) {
      io.err(`tenet ${command}: cannot open the database (${err.code}): ${err.message}\n`);
      return undefined;
    }
    throw err;
  }
}
