/**
 * Tenet's configuration: one schema, read once at start from the environment (and CLI flags),
 * with messages that name the variable to change. Secrets never get defaults here.
 */
import { homedir } from "node:os";
import { join } from "node:path";
import { z } from "zod";
import { TenetError } from "../errors.js";

const port = z.coerce.number().int().min(0).max(65535);

export const configSchema = z.object({
  /** Where embedded data lives (SQLite database, bootstrap token). */
  dataDir: z.string().min(1),
  /** `postgres://...` switches storage to PostgreSQL; unset means embedded SQLite in dataDir. */
  databaseUrl: z
    .string()
    .regex(/^postgres(ql)?:\/\//, "must be a postgres:// or postgresql:// URL")
    .optional(),
  host: z.string().min(1),
  port,
  logLevel: z.enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"]),
});

export type Config = z.infer<typeof configSchema>;

const ENV_NAMES: Record<keyof Config, string> = {
  dataDir: "TENET_DATA_DIR",
  databaseUrl: "TENET_DATABASE_URL",
  host: "TENET_HOST",
  port: "TENET_PORT",
  logLevel: "TENET_LOG_LEVEL",
};

/** The default data directory: `$XDG_DATA_HOME/tenet`, else `~/.local/share/tenet`. */
export function defaultDataDir(env: NodeJS.ProcessEnv = process.env): string {
  const base = env.XDG_DATA_HOME && env.XDG_DATA_HOME !== "" ? env.XDG_DATA_HOME : join(homedir(), ".local", "share");
  return join(base, "tenet");
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env, overrides: Partial<Record<keyof Config, string | number>> = {}): Config {
  const raw = {
    dataDir: overrides.dataDir ?? env.TENET_DATA_DIR ?? defaultDataDir(env),
    databaseUrl: overrides.databaseUrl ?? (env.TENET_DATABASE_URL || undefined),
    host: overrides.host ?? env.TENET_HOST ?? "127.0.0.1",
    port: overrides.port ?? env.TENET_PORT ?? 8080,
    logLevel: overrides.logLevel ?? env.TENET_LOG_LEVEL ?? "info",
  };
  const parsed = configSchema.safeParse(raw);
  if (!parsed.success) {
    const details = parsed.error.issues.map((i) => {
      const key = i.path[0] as keyof Config;
      return { where: ENV_NAMES[key] ?? String(key), message: i.message };
    });
    throw new TenetError("validation_error", `invalid configuration: ${details.map((d) => `${d.where}: ${d.message}`).join("; ")}`, { details });
  }
  return parsed.data;
}
