/** `tenet migrate`: applies pending schema migrations (serve also does this at start). */
import type { Io } from "../main.js";
import { openConfigured } from "./open-storage.js";

export async function migrateCommand(args: string[], io: Io): Promise<number> {
  const opened = await openConfigured(args, io, "migrate");
  if (!opened) return 1;
  const applied = (opened.ds as { migrationsApplied?: number[] }).migrationsApplied ?? [];
  io.out(applied.length ? `applied migrations: ${applied.join(", ")}\n` : "the database schema is up to date\n");
  await opened.ds.close();
  return 0;
}
