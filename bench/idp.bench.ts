/**
 * Identity provider benchmark (issue 7): authorization code exchanges per second at the token
 * endpoint of `tenet serve`'s OpenID provider (oidc-provider over Tenet's documents, SQLite).
 *
 * Target: ≥ 1,000 code exchanges/s on this machine, with no failed exchange.
 *
 * 1. Set-up (bench/idp-setup.ts): `tenet serve --port 0` in its own process (SQLite in a temp
 *    dir, the default public URL http://localhost:<port>), a user invited who registers a passkey
 *    (software authenticator), a confidential client (client_secret_basic, authorization_code +
 *    refresh_token), and one passkey sign-in through that client: a provider session cookie.
 * 2. Minting (set-up, not the measure, but its rate is reported): authorization requests with the
 *    session cookie and a fresh PKCE pair each (SSO: no prompt); each answers a redirect to the
 *    client with a code. Authorization codes live 60 s, so codes are minted per concurrency level
 *    right before that level's exchanges.
 * 3. Measured: the codes exchanged at the token endpoint (RFC 6749 §4.1.3: grant_type,
 *    code, redirect_uri, RFC 7636 code_verifier, Basic client authentication), BENCH_IN_FLIGHT
 *    requests in flight over keep-alive connections (undici Pool). Every answer must be a 200
 *    with an access token, an ID token and a refresh token; anything else is a failure.
 * 4. Peer in the same run: as many `GET /healthz` of the same server at the same concurrency
 *    (Fastify, no storage): what a request costs at all, so the ratio shows the token endpoint's.
 * 5. Refresh token grants (RFC 6749 §6; rotation: each consumes its token and issues a new one)
 *    with refresh tokens from step 3.
 *
 * Run: npm run bench:idp   (node --max-semi-space-size=32 dist/bench/idp.bench.js)
 * Tunables (env): BENCH_SECONDS (5: codes per level = BENCH_SECONDS × the target rate, so a
 * level that meets the target is measured that long), BENCH_CODES (overrides that count),
 * BENCH_IN_FLIGHT (32,128), BENCH_MINT_IN_FLIGHT (16), BENCH_REFRESHES (2000 per level),
 * BENCH_WARMUP (300 exchanges and refreshes before the first level, not measured),
 * BENCH_BACKEND (sqlite, the default, or postgres: BENCH_PG_URL or TENET_TEST_DATABASE_URL, default
 * postgres://postgres@127.0.0.1:5432/test, a fresh schema dropped at the end),
 * BENCH_PROFILE=1 (tenet serve with --cpu-prof: where its time went in each measured phase),
 * BENCH_TENET_NODE_ARGS (node flags for tenet serve; default --max-semi-space-size=32, as
 * bin/tenet.js runs it).
 *
 * Prints a markdown report, then one JSON line with every number. Never exits non-zero on a
 * missed target (only on a crash).
 */
import { mkdtempSync, readFileSync } from "node:fs";
import os from "node:os";
import { join } from "node:path";
import { Pool } from "undici";
import { clkTck } from "./api/procs.js";
import { createSchema, describe as describePg, dropSchema, PG_URL, pgSettings, urlWithSchema } from "./storage/pg.js";
import { int, ms, ratio, table, targetsSection, machineJson } from "./engine/report.js";
import { type Enrolled, type IdpProcess, authorizationRequest, basicAuth, enrol, pkcePair, startIdpServer } from "./idp-setup.js";
import { type Window, type WindowProfile, profileWindows } from "./idp-profile.js";

const envNum = (name: string, dflt: number): number => {
  const v = Number(process.env[name]);
  return Number.isFinite(v) && v > 0 ? Math.floor(v) : dflt;
};
const envList = (name: string, dflt: number[]): number[] => {
  const v = (process.env[name] ?? "")
    .split(",")
    .map((s) => Number(s.trim()))
    .filter((n) => Number.isInteger(n) && n > 0);
  return v.length > 0 ? v : dflt;
};

const TARGET = { exchangesPerSec: 1000 };
const SECONDS = envNum("BENCH_SECONDS", 5);
const CODES = envNum("BENCH_CODES", SECONDS * TARGET.exchangesPerSec);
const IN_FLIGHT = envList("BENCH_IN_FLIGHT", [32, 128]);
const MINT_IN_FLIGHT = envNum("BENCH_MINT_IN_FLIGHT", 16);
const REFRESHES = envNum("BENCH_REFRESHES", 2000);
const WARMUP = envNum("BENCH_WARMUP", 300);
const PROFILE = process.env.BENCH_PROFILE === "1";
const BACKEND = process.env.BENCH_BACKEND === "postgres" ? "postgres" : "sqlite";
const TENET_NODE_ARGS = (process.env.BENCH_TENET_NODE_ARGS ?? "--max-semi-space-size=32").split(" ").filter(Boolean);
/** Authorization codes live 60 s (src/identity/oidc/provider.ts): minting stops before that. */
const MINT_LIMIT_MS = 40_000;

const log = (msg: string): void => {
  process.stderr.write(`[bench] ${msg}\n`);
};
const benchStart = performance.now();
const problems: string[] = [];
const nowUs = (): number => Number(process.hrtime.bigint() / 1000n);

// --- a count-based closed loop ----------------------------------------------------------------------

interface Run {
  what: string;
  inFlight: number;
  requests: number;
  failed: number;
  firstError: string | undefined;
  seconds: number;
  perSec: number;
  /** Milliseconds, sorted, of the successful requests. */
  latencies: Float64Array;
  /** Cores of tenet serve busy during the run (utime + stime ÷ wall time), null without /proc. */
  serverCpu: number | null;
  clientCpu: number;
  window: Window;
}

const TICK = clkTck();
function cpuSeconds(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return (Number(f[11]) + Number(f[12])) / TICK;
  } catch {
    return undefined;
  }
}

/**
 * `op(item)` for every item, `inFlight` at a time, each caller taking the next item as soon as its
 * last one answered. A rejection is a failure (counted, the first one kept); wall time runs from
 * the first request to the last answer.
 */
async function drive<T>(what: string, items: readonly T[], inFlight: number, pid: number, op: (item: T, i: number) => Promise<void>): Promise<Run> {
  const lat = new Float64Array(items.length);
  let ok = 0;
  let failed = 0;
  let firstError: string | undefined;
  let next = 0;
  const cpu0 = cpuSeconds(pid);
  const client0 = process.cpuUsage();
  const from = nowUs();
  const t0 = performance.now();
  const caller = async (): Promise<void> => {
    for (let i = next++; i < items.length; i = next++) {
      const s = performance.now();
      try {
        await op(items[i]!, i);
        lat[ok++] = performance.now() - s;
      } catch (err) {
        failed++;
        firstError ??= (err as Error).message;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(inFlight, items.length) }, caller));
  const wall = (performance.now() - t0) / 1000;
  const to = nowUs();
  const cpu1 = cpuSeconds(pid);
  const client = process.cpuUsage(client0);
  const latencies = lat.slice(0, ok).sort();
  return {
    what,
    inFlight,
    requests: items.length,
    failed,
    firstError,
    seconds: wall,
    perSec: ok / wall,
    latencies,
    serverCpu: cpu0 !== undefined && cpu1 !== undefined ? (cpu1 - cpu0) / wall : null,
    clientCpu: (client.user + client.system) / 1e6 / wall,
    window: { name: what, from, to },
  };
}

const pctl = (s: Float64Array, p: number): number => (s.length ? s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))]! : Number.NaN);

// --- the requests -------------------------------------------------------------------------------------

interface Code {
  code: string;
  verifier: string;
}

function mintOp(pool: Pool, e: Enrolled, cookie: string, issuer: string, out: Code[]) {
  return async (_: unknown, i: number): Promise<void> => {
    const { verifier, challenge } = pkcePair();
    const state = `s${i}`;
    const r = await pool.request({ method: "GET", path: authorizationRequest(e, challenge, state), headers: { cookie } });
    const text = await r.body.text();
    const location = r.headers.location;
    if ((r.statusCode !== 303 && r.statusCode !== 302) || typeof location !== "string") throw new Error(`authorization request: ${r.statusCode} ${text.slice(0, 200)}`);
    const back = new URL(location);
    const code = back.searchParams.get("code");
    if (!location.startsWith(e.redirectUri) || !code) throw new Error(`authorization request: redirected to ${location.slice(0, 300)}`);
    // RFC 9207: the response names its issuer; and the state comes back untouched.
    if (back.searchParams.get("state") !== state || back.searchParams.get("iss") !== issuer) throw new Error(`authorization response: state or iss wrong in ${location.slice(0, 300)}`);
    out.push({ code, verifier });
  };
}

/** A token request that must answer 200 with access, ID and refresh tokens; the refresh token goes to `rts`. */
function tokenOp<T>(pool: Pool, e: Enrolled, body: (item: T) => string, rts: string[]) {
  const headers = { authorization: basicAuth(e.clientId, e.clientSecret), "content-type": "application/x-www-form-urlencoded" };
  return async (item: T): Promise<void> => {
    const r = await pool.request({ method: "POST", path: e.tokenPath, headers, body: body(item) });
    const text = await r.body.text();
    if (r.statusCode !== 200) throw new Error(`token endpoint: ${r.statusCode} ${text.slice(0, 200)}`);
    const t = JSON.parse(text) as Record<string, unknown>;
    if (typeof t.access_token !== "string" || typeof t.id_token !== "string" || typeof t.refresh_token !== "string" || t.token_type !== "Bearer") {
      throw new Error(`token endpoint: 200 without the three tokens: ${Object.keys(t).join(",")}`);
    }
    rts.push(t.refresh_token);
  };
}

const codeBody = (e: Enrolled) => (c: Code) => new URLSearchParams({ grant_type: "authorization_code", code: c.code, redirect_uri: e.redirectUri, code_verifier: c.verifier }).toString();
const refreshBody = (rt: string) => new URLSearchParams({ grant_type: "refresh_token", refresh_token: rt }).toString();

function healthOp(pool: Pool) {
  return async (): Promise<void> => {
    const r = await pool.request({ method: "GET", path: "/healthz" });
    const text = await r.body.text();
    if (r.statusCode !== 200) throw new Error(`/healthz: ${r.statusCode} ${text.slice(0, 200)}`);
  };
}

/** The ID token of the sign-in: ES256, this issuer, this user, this client (decoded, not verified: the RP's job). */
function checkIdToken(idToken: unknown, srv: IdpProcess, e: Enrolled): string | undefined {
  if (typeof idToken !== "string") return "no id_token";
  const [h, p] = idToken.split(".").slice(0, 2).map((x) => JSON.parse(Buffer.from(x, "base64url").toString("utf8")) as Record<string, unknown>);
  if (h?.alg !== "ES256") return `ID token alg ${String(h?.alg)}`;
  if (p?.iss !== srv.issuer || p?.sub !== e.userId || p?.aud !== e.clientId) return `ID token claims ${JSON.stringify({ iss: p?.iss, sub: p?.sub, aud: p?.aud })}`;
  return undefined;
}

// --- the run ------------------------------------------------------------------------------------------

interface Level {
  inFlight: number;
  mint: Run;
  exchange: Run;
  health: Run;
  codesAgeMs: number;
}
const levels: Level[] = [];
const refreshes: Array<{ refresh: Run; health: Run | undefined }> = [];
let warm: { exchange: Run; refresh: Run } | undefined;
let warmMint: Run | undefined;
const notes: string[] = [];
let enrolled: Enrolled | undefined;
let profile: { file: string; windows: WindowProfile[] } | undefined;
const profDir = PROFILE ? mkdtempSync(join(os.tmpdir(), "tenet-bench-idp-prof-")) : "";
const serverArgs = [...TENET_NODE_ARGS, ...(PROFILE ? ["--cpu-prof", `--cpu-prof-dir=${profDir}`] : [])];

const cpus = os.cpus();
log(`Node ${process.version}, ${cpus[0]?.model.trim() ?? "unknown CPU"}, ${cpus.length} cores, load ${os.loadavg().map((x) => x.toFixed(2)).join(" ")}`);
// PostgreSQL: a fresh schema, reached through the URL's search_path, dropped at the end.
const pgSchema = BACKEND === "postgres" ? await createSchema() : undefined;
const pgConfig = pgSchema ? await pgSettings() : {};
const srv = await startIdpServer(serverArgs, pgSchema ? urlWithSchema(pgSchema) : undefined).catch(async (err: unknown) => {
  if (pgSchema) await dropSchema(pgSchema);
  throw err;
});
log(`tenet serve at ${srv.url} (pid ${srv.pid}, node ${serverArgs.join(" ") || "without flags"}), issuer ${srv.issuer}`);
const pool = new Pool(srv.url, { connections: Math.max(MINT_IN_FLIGHT, ...IN_FLIGHT), pipelining: 1, keepAliveTimeout: 60_000 });
const windows: Window[] = [];
const allRts: string[] = [];

try {
  const e = await enrol(srv);
  enrolled = e;
  const idProblem = checkIdToken(e.firstTokens.id_token, srv, e);
  if (idProblem) problems.push(`the sign-in's tokens: ${idProblem}`);
  const cookie = e.browser.cookieHeader(e.authorizationPath);
  log(`enrolled user ${e.userId} and client ${e.clientId} in ${ms(e.ms.enrol)}; passkey sign-in and first exchange in ${ms(e.ms.signIn)}`);

  const mint = async (n: number, what: string): Promise<{ run: Run; codes: Code[] }> => {
    const codes: Code[] = [];
    const op = mintOp(pool, e, cookie, srv.issuer, codes);
    const t0 = performance.now();
    // In slices, so that a slow machine stops before the first codes expire.
    const runs: Run[] = [];
    while (codes.length < n && performance.now() - t0 < MINT_LIMIT_MS) {
      const before = codes.length;
      runs.push(await drive(what, Array.from({ length: Math.min(500, n - codes.length) }), MINT_IN_FLIGHT, srv.pid, op));
      if (codes.length === before) break; // every request of the slice failed: the session is gone
    }
    if (codes.length < n) problems.push(`${what}: only ${codes.length} of ${n} codes minted in ${ms(MINT_LIMIT_MS)} (codes live 60 s)`);
    return { run: merge(runs), codes };
  };

  if (WARMUP > 0) {
    log(`warm-up: ${WARMUP} codes minted, exchanged and refreshed (not measured)`);
    const { run: warmRun, codes } = await mint(WARMUP, "warm-up authorization requests");
    warmMint = warmRun;
    const rts: string[] = [];
    const exchange = await drive("warm-up exchanges", codes, IN_FLIGHT[0]!, srv.pid, tokenOp(pool, e, codeBody(e), rts));
    const refresh = await drive("warm-up refreshes", rts, IN_FLIGHT[0]!, srv.pid, tokenOp(pool, e, refreshBody, []));
    warm = { exchange, refresh };
  }
  // Every code of a level must still be alive when it is exchanged (codes are exchanged in the
  // order they were minted, so the last one waits about N ÷ exchange rate): at the warm-up's
  // rates (a cold server's, so on the safe side), minting and exchanging must each fit in 40 s.
  let perLevel = CODES;
  if (warm) {
    const cap = Math.floor((MINT_LIMIT_MS / 1000) * Math.min(warmMint?.perSec ?? Infinity, warm.exchange.perSec));
    if (cap < perLevel) {
      perLevel = Math.max(100, cap);
      notes.push(`codes per level reduced from ${int(CODES)} to ${int(perLevel)}: at the warm-up's rates (${int(warmMint?.perSec ?? 0)} authorization requests/s, ${int(warm.exchange.perSec)} exchanges/s) more would outlive the codes' 60 s`);
      log(notes[notes.length - 1]!);
    }
  }

  for (const inFlight of IN_FLIGHT) {
    if (srv.unexpectedExit()) break;
    log(`${inFlight} in flight: GET /healthz × ${int(perLevel)}`);
    const health = await drive(`GET /healthz, ${inFlight} in flight`, Array.from({ length: perLevel }), inFlight, srv.pid, healthOp(pool));
    log(`  ${int(health.perSec)}/s, p50 ${pctl(health.latencies, 50).toFixed(2)} ms, p99 ${pctl(health.latencies, 99).toFixed(2)} ms`);
    log(`${inFlight} in flight: minting ${int(perLevel)} codes (${MINT_IN_FLIGHT} authorization requests in flight)`);
    const minted = await mint(perLevel, `authorization requests (SSO), ${MINT_IN_FLIGHT} in flight`);
    const mintedAt = performance.now() - minted.run.seconds * 1000;
    log(`  ${int(minted.run.perSec)}/s, p50 ${pctl(minted.run.latencies, 50).toFixed(2)} ms, p99 ${pctl(minted.run.latencies, 99).toFixed(2)} ms, ${minted.run.failed} failed`);
    log(`${inFlight} in flight: exchanging ${int(minted.codes.length)} codes`);
    const exchange = await drive(`code exchanges, ${inFlight} in flight`, minted.codes, inFlight, srv.pid, tokenOp(pool, e, codeBody(e), allRts));
    log(`  ${int(exchange.perSec)}/s, p50 ${pctl(exchange.latencies, 50).toFixed(2)} ms, p99 ${pctl(exchange.latencies, 99).toFixed(2)} ms, ${exchange.failed} failed${exchange.firstError ? ` (first: ${exchange.firstError})` : ""}`);
    levels.push({ inFlight, mint: minted.run, exchange, health, codesAgeMs: performance.now() - mintedAt });
    windows.push(exchange.window, health.window);
  }

  for (const inFlight of IN_FLIGHT) {
    if (srv.unexpectedExit()) break;
    const rts = allRts.splice(0, REFRESHES);
    if (rts.length < REFRESHES) problems.push(`refresh, ${inFlight} in flight: only ${rts.length} refresh tokens left of ${REFRESHES}`);
    if (rts.length === 0) break;
    log(`${inFlight} in flight: ${int(rts.length)} refresh token grants`);
    const refresh = await drive(`refresh token grants, ${inFlight} in flight`, rts, inFlight, srv.pid, tokenOp(pool, e, refreshBody, []));
    log(`  ${int(refresh.perSec)}/s, p50 ${pctl(refresh.latencies, 50).toFixed(2)} ms, p99 ${pctl(refresh.latencies, 99).toFixed(2)} ms, ${refresh.failed} failed${refresh.firstError ? ` (first: ${refresh.firstError})` : ""}`);
    refreshes.push({ refresh, health: levels.find((l) => l.inFlight === inFlight)?.health });
    windows.push(refresh.window);
  }
} finally {
  const gone = srv.unexpectedExit();
  if (gone) problems.push(`tenet serve ${gone}: ${srv.output().trim().slice(-500)}`);
  await pool.close();
  const code = await srv.close();
  if (!gone && code !== 0) problems.push(`tenet serve exited with ${code}: ${srv.output().trim().slice(-500)}`);
  if (pgSchema) await dropSchema(pgSchema).catch((err: unknown) => problems.push(`could not drop schema ${pgSchema}: ${(err as Error).message}`));
  if (PROFILE) {
    profile = profileWindows(profDir, windows);
    if (!profile) problems.push(`no CPU profile was written in ${profDir}`);
  }
}

function merge(runs: Run[]): Run {
  const seconds = runs.reduce((a, r) => a + r.seconds, 0);
  const ok = runs.reduce((a, r) => a + r.latencies.length, 0);
  const latencies = new Float64Array(ok);
  let at = 0;
  for (const r of runs) {
    latencies.set(r.latencies, at);
    at += r.latencies.length;
  }
  const cpu = runs.every((r) => r.serverCpu !== null) ? runs.reduce((a, r) => a + r.serverCpu! * r.seconds, 0) / seconds : null;
  return {
    what: runs[0]?.what ?? "",
    inFlight: runs[0]?.inFlight ?? 0,
    requests: runs.reduce((a, r) => a + r.requests, 0),
    failed: runs.reduce((a, r) => a + r.failed, 0),
    firstError: runs.find((r) => r.firstError)?.firstError,
    seconds,
    perSec: ok / seconds,
    latencies: latencies.sort(),
    serverCpu: cpu,
    clientCpu: runs.reduce((a, r) => a + r.clientCpu * r.seconds, 0) / seconds,
    window: { name: runs[0]?.what ?? "", from: runs[0]?.window.from ?? 0, to: runs[runs.length - 1]?.window.to ?? 0 },
  };
}

// --- report ---------------------------------------------------------------------------------------------

const totalMs = performance.now() - benchStart;
const measured: Run[] = [...levels.flatMap((l) => [l.mint, l.exchange, l.health]), ...refreshes.map((r) => r.refresh)];
for (const r of measured) if (r.failed > 0) problems.push(`${r.what}: ${r.failed} of ${r.requests} failed (first: ${r.firstError})`);
for (const r of warm ? [warm.exchange, warm.refresh] : []) if (r.failed > 0) problems.push(`${r.what}: ${r.failed} of ${r.requests} failed (first: ${r.firstError})`);
const failedExchanges = levels.reduce((a, l) => a + l.exchange.failed, 0) + refreshes.reduce((a, r) => a + r.refresh.failed, 0);
const best = levels.reduce<Level | undefined>((b, l) => (b === undefined || l.exchange.perSec > b.exchange.perSec ? l : b), undefined);

const f2 = (n: number): string => (Number.isFinite(n) ? (n < 100 ? n.toFixed(2) : int(n)) : "n/a");
const cores = (n: number | null): string => (n === null ? "n/a" : n.toFixed(2));
const usPer = (r: Run): string => (r.serverCpu === null || r.perSec === 0 ? "n/a" : int((r.serverCpu / r.perSec) * 1e6));
const row = (r: Run, versus?: Run): string[] => [
  r.what,
  int(r.latencies.length),
  int(r.perSec),
  f2(pctl(r.latencies, 50)),
  f2(pctl(r.latencies, 99)),
  f2(pctl(r.latencies, 100)),
  cores(r.serverCpu),
  usPer(r),
  cores(r.clientCpu),
  String(r.failed),
  versus ? `${ratio(versus.perSec / r.perSec)} slower` : "",
];

const flags = process.execArgv.join(" ");
const out: string[] = [];
out.push(`## Identity provider benchmark: token endpoint (${BACKEND === "postgres" ? "PostgreSQL" : "SQLite"})`);
out.push("");
out.push(
  `Node ${process.version} (this process: ${flags ? `\`${flags}\`` : "no flags"}; \`tenet serve\`: ${serverArgs.length ? `\`${serverArgs.join(" ")}\`` : "no flags"}), ${cpus[0]?.model.trim() ?? "unknown CPU"} (${cpus.length} cores shared by the server, this load generator and anything else running; load avg ${os.loadavg()[0]!.toFixed(2)} at the end). ` +
    `\`tenet serve --port 0\` in its own process: ${pgSchema ? `PostgreSQL ${describePg(PG_URL)} (version ${pgConfig.server_version ?? "?"}, synchronous_commit=${pgConfig.synchronous_commit ?? "?"}, fsync=${pgConfig.fsync ?? "?"}; a fresh schema, dropped at the end)` : "SQLite (WAL, synchronous=FULL) in a temp dir"}, oidc-provider mounted at /oidc, its state in Tenet's documents (src/identity/oidc/adapter.ts). ` +
    `One user with a passkey, one confidential client (client_secret_basic), one provider session from a passkey sign-in; every code comes from an SSO authorization request of that session (fresh PKCE S256 pair each) and is exchanged once with its code_verifier. ` +
    `Load: this process, undici Pool over keep-alive connections to 127.0.0.1, N requests in flight, each caller sending its next request when the last one answered; a run's rate is its requests ÷ the wall time from the first request to the last answer. ` +
    `Server CPU: cores of \`tenet serve\` busy during the run (/proc), and its CPU time per request. ${WARMUP > 0 ? `Before the first level, ${WARMUP} codes were minted, exchanged and refreshed unmeasured (warm-up).` : "No warm-up."}`,
);
out.push("");
out.push(
  table(
    ["Run", "Requests", "Per second", "p50 ms", "p99 ms", "max ms", "Server CPU (cores)", "Server CPU µs/request", "Load-gen CPU", "Failed", "vs /healthz"],
    [
      ...levels.flatMap((l) => [row(l.exchange, l.health), row(l.health), row(l.mint, l.health)]),
      ...refreshes.map((r) => row(r.refresh, r.health)),
    ],
    ["l", "r", "r", "r", "r", "r", "r", "r", "r", "r", "r"],
  ),
);
out.push("");
out.push(
  `Authorization requests are the set-up (SSO with the session cookie: a redirect with a code, no page); they are listed for their rate. Codes live 60 s: each level's codes are minted right before it (the oldest was ${levels.map((l) => ms(l.codesAgeMs)).join(" / ") || "n/a"} old when its level ended). ` +
    `Latency is queueing at saturation: a closed loop keeps N requests in flight, so p50 ≈ N ÷ rate. ` +
    `Each exchange answers an opaque access token, an ES256 ID token and a refresh token; each refresh consumes its token and answers new ones (rotation). Every answer was checked (200, the three tokens); the sign-in's ID token was decoded: ${enrolled && !checkIdToken(enrolled.firstTokens.id_token, srv, enrolled) ? "ES256, this issuer, user and client" : "see problems"}.`,
);
const clientBound = levels.filter((l) => l.health.clientCpu > 0.7).map((l) => `${l.inFlight} in flight: load generator ${l.health.clientCpu.toFixed(2)} of a core`);
if (clientBound.length) notes.push(`the /healthz rows are bound by this load generator rather than the server (${clientBound.join("; ")}): the server's ceiling is higher, so "vs /healthz" understates what the token endpoint costs`);
if (notes.length) out.push("", ...notes.map((n) => `Note: ${n}.`));
if (profile) {
  out.push("");
  out.push(`### Where \`tenet serve\`'s time went (\`--cpu-prof\`, samples of each measured run's window only)`);
  out.push("");
  out.push("Each busy (non-idle) sample counted once, towards the first of these buckets met walking up its stack from the leaf: native work (SQLite statements and the WAL fsync of each commit, crypto) goes to the JavaScript function that called it.");
  for (const w of profile.windows.filter((x) => !x.name.startsWith("GET /healthz"))) {
    out.push("", `**${w.name}** — ${int(w.samples)} samples, event loop busy ${w.busyPct.toFixed(0)}%`, "");
    out.push(table(["Bucket", "Share of busy"], w.buckets.filter((b) => b.pct >= 0.5).map((b) => [b.bucket, `${b.pct.toFixed(1)}%`]), ["l", "r"]));
    out.push("");
    out.push(table(["Function (self)", "Where", "Share"], w.top.slice(0, 10).map((t) => [`\`${t.fn}\``, t.where, `${t.pct.toFixed(1)}%`]), ["l", "l", "r"]));
  }
  out.push("", `Profile: ${profile.file}`);
}
out.push(
  ...targetsSection(
    [
      {
        name: `≥ ${int(TARGET.exchangesPerSec)} authorization code exchanges/s (best in-flight level)`,
        measured: best ? `${int(best.exchange.perSec)}/s at ${best.inFlight} in flight (p50 ${f2(pctl(best.exchange.latencies, 50))} ms, p99 ${f2(pctl(best.exchange.latencies, 99))} ms)` : "not run",
        ok: best ? best.exchange.perSec >= TARGET.exchangesPerSec && failedExchanges === 0 : undefined,
      },
      {
        name: "no failed request (every exchange and refresh a 200 with its tokens)",
        measured: `${failedExchanges} failed token requests; ${problems.length} problem(s)`,
        ok: levels.length ? failedExchanges === 0 && problems.length === 0 : undefined,
      },
    ],
    problems,
    totalMs,
  ),
);
console.log(out.join("\n"));

const r3 = (n: number): number => (Number.isFinite(n) ? Math.round(n * 1000) / 1000 : n);
const runJson = (r: Run | undefined) =>
  r
    ? {
        inFlight: r.inFlight,
        requests: r.requests,
        ok: r.latencies.length,
        failed: r.failed,
        seconds: r3(r.seconds),
        perSec: Math.round(r.perSec),
        latencyMs: { p50: r3(pctl(r.latencies, 50)), p90: r3(pctl(r.latencies, 90)), p99: r3(pctl(r.latencies, 99)), max: r3(pctl(r.latencies, 100)) },
        serverCpu: r.serverCpu === null ? null : r3(r.serverCpu),
        serverCpuUsPerRequest: r.serverCpu === null ? null : Math.round((r.serverCpu / r.perSec) * 1e6),
        clientCpu: r3(r.clientCpu),
      }
    : null;
console.log(
  JSON.stringify({
    ...machineJson("tenet-idp"),
    nodeFlags: flags,
    serverNodeArgs: serverArgs,
    backend: BACKEND,
    postgres: pgSchema ? { url: describePg(PG_URL), ...pgConfig } : null,
    config: { codes: CODES, inFlight: IN_FLIGHT, mintInFlight: MINT_IN_FLIGHT, refreshes: REFRESHES, warmup: WARMUP },
    levels: levels.map((l) => ({ inFlight: l.inFlight, exchange: runJson(l.exchange), healthz: runJson(l.health), authorizationRequests: runJson(l.mint), exchangeVsHealthz: r3(l.health.perSec / l.exchange.perSec) })),
    refresh: refreshes.map((r) => runJson(r.refresh)),
    warmup: warm ? { exchange: runJson(warm.exchange), refresh: runJson(warm.refresh) } : null,
    profile: profile ? { file: profile.file, windows: profile.windows.map((w, i) => ({ window: windows[i], ...w, buckets: w.buckets.map((b) => ({ ...b, pct: r3(b.pct) })), top: w.top.map((t) => ({ ...t, pct: r3(t.pct) })) })) } : null,
    notes,
    problems,
    targets: { exchangesPerSec: TARGET.exchangesPerSec, best: best ? Math.round(best.exchange.perSec) : null, pass: best ? best.exchange.perSec >= TARGET.exchangesPerSec && failedExchanges === 0 : null },
    totalMs: Math.round(totalMs),
  }),
);
