/**
 * Set-up of the identity-aware proxy benchmark (bench/proxy.bench.ts), done as an operator and a
 * person would:
 *
 * 1. The upstream: bench/api/minimal-server.ts (a bare `node:http` server answering a small JSON
 *    body) in a process of its own; and, when asked for, the peer: bench/proxy/bare-proxy.ts (a
 *    bare Node reverse proxy to that upstream, checking nothing) in another.
 * 2. A first `tenet serve` (SQLite in a temporary data directory) creates the store, its model
 *    and its access policy through the API, then stops: a route names its store in the access
 *    configuration, which is read at start, and store ids are minted by the server.
 * 3. `tenet serve --access-config <file>` on the same data directory: one route, host `127.0.0.1`
 *    (any port: src/enforcement/routes.ts matches a port-less route host whatever the port, so the
 *    file need not know the port `--port 0` picks), to the upstream. The identity provider is at
 *    `http://localhost:<port>`, another origin, as in test/enforcement/proxy.test.ts.
 * 4. A user with a passkey (registered on their invitation page with the software authenticator
 *    of test/identity/soft-authenticator.ts), a tuple giving them access, and the `tenet-proxy`
 *    client's redirect URI with the port (see below). The access configuration weighs the
 *    resource_sensitivity risk signal 0 (see below: otherwise the first decision ends the session).
 * 5. The sign-in through the proxy: an anonymous browser request → the provider's sign-in page →
 *    passkey → the proxy's callback → the sealed `tenet_proxy` session cookie, which is what the
 *    load generator sends (checked on three requests before any load).
 */
import { APPS_MODEL_JSON, appsPolicy } from "../test/enforcement/apps-fixture.js";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { Browser, pageData } from "../test/identity/browser.js";
import { SoftAuthenticator } from "../test/identity/soft-authenticator.js";
import { newApiKey } from "../src/identity/api-keys/api-key.js";
import { type MinimalServer, type TenetServer, startListening, startMinimal, startTenet } from "./api/procs.js";
import type { IdpProcess } from "./idp-setup.js";

export const ROUTE_ID = "bench";
const PROXY_CLIENT_ID = "tenet-proxy";
const CALLBACK_PATH = "/.tenet/callback";

export interface ProxyBench {
  upstream: MinimalServer;
  /** The bare Node reverse proxy to the upstream (no checks), when asked for. */
  bare: MinimalServer | undefined;
  tenet: IdpProcess;
  /** Where the load generator sends proxied requests (Tenet's listener; Host 127.0.0.1:<port>). */
  proxyUrl: string;
  /** The Cookie header of the signed-in user (the sealed `tenet_proxy` session). */
  cookie: string;
  storeId: string;
  userId: string;
  /** Wall time of the set-up steps (ms). */
  ms: { store: number; start: number; enrol: number; signIn: number };
  close(): Promise<void>;
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- the set-up reads fields of JSON answers
async function okJson(what: string, r: Response | Promise<Response>, status = 200): Promise<any> {
  const res = await r;
  const text = await res.text();
  if (res.status !== status) throw new Error(`${what}: ${res.status} ${text.slice(0, 500)}`);
  return text ? JSON.parse(text) : undefined;
}

function adminOf(url: string, token: string) {
  return (method: string, path: string, body: unknown, status = 200) =>
    okJson(`${method} ${path}`, fetch(`${url}${path}`, { method, headers: { authorization: `Bearer ${token}`, "content-type": "application/json" }, ...(body === undefined ? {} : { body: JSON.stringify(body) }) }), status);
}

/**
 * Starts bench/proxy/bare-proxy.ts (compiled, beside this file in dist/bench/) to `upstreamUrl`
 * and waits for its "bare proxy listening on URL".
 */
export function startBareProxy(upstreamUrl: string, timeoutMs = 10_000): Promise<MinimalServer> {
  return startListening(fileURLToPath(new URL("./proxy/bare-proxy.js", import.meta.url)), [upstreamUrl], "bare proxy", "the bare proxy", timeoutMs);
}

/**
 * Everything of the header, in order; `nodeArgs` are node flags for the second `tenet serve`;
 * `bare`: start the bare Node reverse proxy too.
 */
export async function setUpProxyBench(nodeArgs: string[], want: { bare: boolean } = { bare: true }): Promise<ProxyBench> {
  const dataDir = mkdtempSync(join(os.tmpdir(), "tenet-bench-proxy-"));
  const { token } = newApiKey({ name: "bench-proxy", scopes: ["admin", "write", "read"], stores: ["*"] });
  const baseEnv: NodeJS.ProcessEnv = {
    TENET_DATA_DIR: dataDir,
    TENET_ADMIN_TOKEN: token,
    TENET_LOG_LEVEL: "warn",
    // SQLite, defaults everywhere, whatever the caller's shell says (undefined = not passed on).
    TENET_DATABASE_URL: undefined,
    TENET_PUBLIC_URL: undefined,
    TENET_DEFAULT_STORE: undefined,
  };
  let upstream: MinimalServer | undefined;
  let bare: MinimalServer | undefined;
  let srv: TenetServer | undefined;
  const cleanUp = async (): Promise<void> => {
    await srv?.stop();
    await bare?.stop();
    await upstream?.stop();
    rmSync(dataDir, { recursive: true, force: true });
  };
  try {
    upstream = await startMinimal();
    if (want.bare) {
      bare = await startBareProxy(upstream.url);
      // It reaches the upstream before any load.
      const probe = await fetch(`${bare.url}/probe`, { headers: { accept: "application/json" } });
      const probeBody = await probe.text();
      if (probe.status !== 200 || !probeBody.includes('"allowed":true')) throw new Error(`the bare proxy: ${probe.status} ${probeBody.slice(0, 300)}`);
    }
    const t0 = performance.now();
    // 2. The store, its model and its policy (a first server, stopped).
    const first = await startTenet({ ...baseEnv, TENET_ACCESS_CONFIG: undefined }, nodeArgs);
    srv = first;
    const a1 = adminOf(first.url, token);
    const store = await a1("POST", "/stores", { name: "proxy-bench" }, 201);
    const storeId = String(store.id);
    await a1("POST", `/stores/${storeId}/authorization-models`, APPS_MODEL_JSON, 201);
    await a1("PUT", `/stores/${storeId}/access-policies`, { files: [{ name: "apps.yaml", content: appsPolicy('check("access")') }] });
    await first.stop();
    srv = undefined;
    const tStore = performance.now() - t0;

    // 3. The proxy: one route, to the upstream.
    const config = join(dataDir, "access.json");
    // Risk: the bench user has no device, so new_device scores 45; an unclassified resource adds 15
    // (resource_sensitivity), 60 = "high", and RiskWatch (src/identity/sessions/risk-watch.ts)
    // revokes every session of a user first seen at high: the cookie would work for one request.
    // Weighing resource_sensitivity 0 leaves the user at medium; every signal still runs.
    writeFileSync(config, JSON.stringify({ risk: { weights: { resource_sensitivity: 0 } }, proxy: { routes: [{ id: ROUTE_ID, from: { host: "127.0.0.1" }, to: upstream.url, resource: { type: "app", id: "bench" }, storeId }] } }, null, 2));
    const t1 = performance.now();
    const second = await startTenet({ ...baseEnv, TENET_ACCESS_CONFIG: config }, nodeArgs);
    srv = second;
    const m = /identity provider (http:\/\/\S+)\/oidc/.exec(second.output());
    if (!m) throw new Error(`tenet serve did not announce its identity provider:\n${second.output()}`);
    const publicUrl = m[1]!;
    const proxyUrl = second.url;
    if (new URL(proxyUrl).hostname !== "127.0.0.1") throw new Error(`tenet serve listens on ${proxyUrl}: the route's host is 127.0.0.1`);
    const tStart = performance.now() - t1;
    // Tenet's own API and provider answer on the provider's host (localhost); 127.0.0.1 is the app's.
    const tenet: IdpProcess = {
      ...second,
      url: publicUrl,
      publicUrl,
      issuer: `${publicUrl}/oidc`,
      adminToken: token,
      dataDir,
      close: async () => {
        const code = await second.stop();
        return code;
      },
    };

    // 4. The person (a passkey registered on their invitation page), their access, and the proxy
    // client's redirect URI.
    const t2 = performance.now();
    const a2 = adminOf(publicUrl, token);
    const user = await a2("POST", "/identity/users", { username: "bench", email: "bench@example.com", email_verified: true }, 201);
    const userId = String(user.id);
    const inv = await a2("POST", `/identity/users/${userId}/invitations`, {}, 201);
    const idp = new Browser(publicUrl);
    const passkey = new SoftAuthenticator();
    const page = await idp.request(inv.url);
    if (page.status !== 200) throw new Error(`invitation page: ${page.status}`);
    const invite = pageData(await page.text());
    const regOpts = await okJson("passkey register-options", idp.postJson(`${invite.base}/passkey/register-options`, {}, invite.csrf));
    await okJson("passkey register", idp.postJson(`${invite.base}/passkey/register`, { handle: regOpts.handle, response: passkey.create(regOpts.options, publicUrl), name: "bench key" }, invite.csrf));
    await a2("POST", `/stores/${storeId}/write`, { writes: { tuple_keys: [{ user: `user:${userId}`, relation: "access", object: "app:bench" }] } });
    // src/app/proxy.ts registers `http://<route host>/.tenet/callback`; the sign-in asks for the
    // request's Host, which carries the port here. An administrator adds that URI (the benchmark
    // cannot name the port in the file: its start helper asks for --port 0).
    const callback = `${proxyUrl}${CALLBACK_PATH}`;
    await a2("PUT", `/identity/clients/${PROXY_CLIENT_ID}`, { client_id: PROXY_CLIENT_ID, client_name: "Tenet proxy", redirect_uris: [`http://127.0.0.1${CALLBACK_PATH}`, callback], grant_types: ["authorization_code"] });
    const tEnrol = performance.now() - t2;

    // 5. The sign-in through the proxy: anonymous → the provider's sign-in page → passkey → the
    // proxy's callback → the app.
    const t3 = performance.now();
    const app = new Browser(proxyUrl);
    const anon = await app.request("/", { headers: { accept: "text/html" } });
    if (anon.status !== 302) throw new Error(`anonymous request through the proxy: expected 302 to sign in, got ${anon.status} ${(await anon.text()).slice(0, 300)}`);
    await anon.body?.cancel();
    const started = await idp.follow(anon.headers.get("location")!);
    if (started.res.status !== 200) throw new Error(`expected the sign-in page, got ${started.res.status} at ${started.url}`);
    const signin = pageData(await started.res.text());
    const opts = await okJson("passkey options", idp.postJson(`${signin.base}/passkey/options`, {}, signin.csrf));
    const verified = await okJson("passkey verify", idp.postJson(`${signin.base}/passkey/verify`, { handle: opts.handle, response: passkey.get(opts.options, publicUrl) }, signin.csrf));
    const atIdp = await idp.follow(verified.redirect);
    if (!atIdp.url.startsWith(callback)) throw new Error(`the provider did not send the browser back to the proxy: ${atIdp.res.status} ${atIdp.url}`);
    await atIdp.res.body?.cancel();
    const back = await app.follow(atIdp.url, { headers: { accept: "text/html" } });
    const body = await back.res.text();
    if (back.res.status !== 200) throw new Error(`after the sign-in: ${back.res.status} at ${back.url}: ${body.slice(0, 300)}`);
    const cookie = app.cookieHeader("/");
    if (!/(?:^|; )tenet_proxy=/.test(cookie)) throw new Error(`no tenet_proxy cookie after the sign-in (cookies: ${app.cookies().join(", ")})`);
    // The cookie alone (as the load generator sends it) reaches the upstream, more than once.
    for (let i = 0; i < 3; i++) {
      const check = await fetch(`${proxyUrl}/probe`, { headers: { cookie, accept: "application/json" } });
      const checkBody = await check.text();
      if (check.status !== 200 || !checkBody.includes('"allowed":true')) throw new Error(`request ${i + 1} with the session cookie: ${check.status} ${checkBody.slice(0, 300)} (decisions: ${JSON.stringify(await a2("GET", "/audit/v1/entries?type=access.decision", undefined)).slice(0, 3000)})`);
    }
    const tSignIn = performance.now() - t3;

    return {
      upstream,
      bare,
      tenet,
      proxyUrl,
      cookie,
      storeId,
      userId,
      ms: { store: tStore, start: tStart, enrol: tEnrol, signIn: tSignIn },
      close: cleanUp,
    };
  } catch (err) {
    const out = srv?.output() ?? "";
    await cleanUp();
    throw new Error(`${(err as Error).message}${out ? `\n--- tenet serve output ---\n${out.slice(-2000)}` : ""}`);
  }
}

/** VmRSS of a process in MB (Linux /proc); undefined elsewhere or once it is gone. */
export function rssMb(pid: number): number | undefined {
  try {
    const m = /^VmRSS:\s+(\d+)\s+kB/m.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
    return m ? Number(m[1]) / 1024 : undefined;
  } catch {
    return undefined;
  }
}

