/**
 * `tenet <command>`: the command-line entry point. Each command lives in its own file and
 * returns an exit code; errors with stable codes are printed without stack traces.
 */
import { TenetError } from "../errors.js";

const USAGE = `usage: tenet <command> [options]

commands:
  serve [--host H] [--port P] [--data-dir D] [--access-config F] [--roles all|proxy]
                             run Tenet (SQLite in TENET_DATA_DIR, or TENET_DATABASE_URL=postgres://...;
                             risk, zones, JIT settings and proxy routes in F or TENET_ACCESS_CONFIG);
                             --roles proxy: the proxy alone, asking TENET_DECISION_URL (see README)
  migrate                    apply pending database migrations
  store import --file F      import an OpenFGA store file (model + tuples)
  store export --store-id ID export a store as an OpenFGA store file
  token create|list|revoke   manage API keys for Tenet's API
  policy apply -f DIR --store ID [--shadow] [--dry-run]
                             validate and apply access policies (also: validate, history, diff, rollback, promote)
  audit verify [--key VKEY]  check the audit log against its signed checkpoints (also: proof SEQ, query ...)
  user create|invite|list|suspend|...  manage users of the identity provider (via the server's API)
  client create|list|get|delete|rotate-secret
                             manage OIDC/OAuth clients (via the server's API)
  route list|get|put|delete  manage the proxy's routes (via the server's API; put ID --file route.json)
  device enroll|report [--server URL]
                             enrol this device and report its posture (reference agent)
  test FILE...               run YAML tests: OpenFGA-format model tests and access-policy tests
  model validate FILE        validate an authorization model (DSL .fga or JSON)
  model transform FILE       print a model as JSON (from DSL) or DSL (from JSON)
  help                       show this help
`;

// Commands are loaded when run: `tenet token list` need not load the identity provider's libraries.
export interface Io {
  out: (s: string) => void;
  err: (s: string) => void;
}

const defaultIo: Io = {
  out: (s) => process.stdout.write(s),
  err: (s) => process.stderr.write(s),
};

export async function main(argv: string[], io: Io = defaultIo): Promise<number> {
  const [cmd, ...rest] = argv;
  try {
    switch (cmd) {
      case "test":
        return await (await import("./commands/test.js")).testCommand(rest, io);
      case "model":
        return await (await import("./commands/model.js")).modelCommand(rest, io);
      case "serve":
        return await (await import("./commands/serve.js")).serveCommand(rest, io);
      case "migrate":
        return await (await import("./commands/migrate.js")).migrateCommand(rest, io);
      case "store":
        return await (await import("./commands/store.js")).storeCommand(rest, io);
      case "token":
        return await (await import("./commands/token.js")).tokenCommand(rest, io);
      case "policy":
        return await (await import("./commands/policy.js")).policyCommand(rest, io);
      case "audit":
        return await (await import("./commands/audit.js")).auditCommand(rest, io);
      case "device":
        return await (await import("./commands/device.js")).deviceCommand(rest, io);
      case "client":
        return await (await import("./commands/identity-admin.js")).clientCommand(rest, io);
      case "user":
        return await (await import("./commands/identity-admin.js")).userCommand(rest, io);
      case "route":
        return await (await import("./commands/route.js")).routeCommand(rest, io);
      case undefined:
      case "help":
      case "--help":
      case "-h":
        io.out(USAGE);
        return cmd === undefined ? 2 : 0;
      default:
        io.err(`tenet: unknown command '${cmd}'\n${USAGE}`);
        return 2;
    }
  } catch (err) {
    if (err instanceof TenetError) {
      io.err(`tenet: ${err.code}: ${err.message}\n`);
      for (const d of err.details) io.err(`  ${d.where ? `${d.where}: ` : ""}${d.message}\n`);
      return 1;
    }
    throw err;
  }
}
