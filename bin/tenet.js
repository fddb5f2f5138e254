#!/usr/bin/env -S node --max-semi-space-size=32
// Thin launcher: the CLI is compiled to dist/ by `npm run build` (run by `npm ci` via `prepare`).
// --max-semi-space-size=32: a server allocates short-lived objects fast (an audited decision
// builds and serialises a ~2 KB event); a 32 MB young generation lets them die there instead of
// being promoted and swept by full collections (measured +15-20% audited decisions/s; see
// `npm run bench:audit`). Without the shebang (`node bin/tenet.js`), pass it or NODE_OPTIONS.
import { main } from "../dist/src/cli/main.js";

main(process.argv.slice(2)).then(
  (code) => { process.exitCode = code; },
  (err) => {
    process.stderr.write(`tenet: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 1;
  },
);
