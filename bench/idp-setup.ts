/**
 * Set-up of the identity provider benchmark (bench/idp.bench.ts): `tenet serve` in a process of
 * its own (SQLite in a temporary data directory, its identity provider at `<publicUrl>/oidc`),
 * then, as a person and an administrator would: a user invited, a passkey registered on the
 * invitation page, a confidential client (client_secret_basic) registered, and one passkey
 * sign-in through that client, which leaves a provider session cookie in a scripted browser.
 *
 * The few pieces of the identity tests it needs (a cookie jar, a software FIDO2 authenticator)
 * are copied here in reduced form, so that the benchmark does not depend on test files.
 */
import { createHash, randomBytes } from "node:crypto";
import { Browser, pageData } from "../test/identity/browser.js";
import { SoftAuthenticator } from "../test/identity/soft-authenticator.js";
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import { join } from "node:path";
import { newApiKey } from "../src/identity/api-keys/api-key.js";
import { startTenet, type TenetServer } from "./api/procs.js";

// --- tenet serve ----------------------------------------------------------------------------------

export interface IdpProcess extends TenetServer {
  /** Tenet's public URL (issuer `<publicUrl>/oidc`; the origin of passkeys and of the pages). */
  publicUrl: string;
  issuer: string;
  adminToken: string;
  dataDir: string;
  /** Stops the server and removes its data directory; resolves to the exit code. */
  close(): Promise<number | null>;
}

/**
 * `tenet serve --port 0` as users run it (bin/tenet.js), with `nodeArgs` for node itself (the
 * shebang's --max-semi-space-size=32 is lost when node is spawned directly, so callers pass it;
 * --cpu-prof for profiles). Its public URL is the default, http://localhost:<port>. Storage:
 * SQLite in the data directory, or PostgreSQL at `databaseUrl`.
 */
export async function startIdpServer(nodeArgs: string[], databaseUrl?: string): Promise<IdpProcess> {
  const dataDir = mkdtempSync(join(os.tmpdir(), "tenet-bench-idp-"));
  const { token } = newApiKey({ name: "bench-idp", scopes: ["admin", "write", "read"], stores: ["*"] });
  const env: NodeJS.ProcessEnv = {
    TENET_DATA_DIR: dataDir,
    TENET_ADMIN_TOKEN: token,
    TENET_LOG_LEVEL: "warn",
    // SQLite unless told otherwise, defaults everywhere: whatever the caller's shell says
    // (undefined = not passed on).
    TENET_DATABASE_URL: databaseUrl,
    TENET_PUBLIC_URL: undefined,
    TENET_ACCESS_CONFIG: undefined,
  };
  let srv: TenetServer;
  try {
    srv = await startTenet(env, nodeArgs);
  } catch (err) {
    rmSync(dataDir, { recursive: true, force: true });
    throw err;
  }
  const m = /identity provider (http:\/\/\S+)\/oidc/.exec(srv.output());
  if (!m) {
    await srv.stop();
    rmSync(dataDir, { recursive: true, force: true });
    throw new Error(`tenet serve did not announce its identity provider:\n${srv.output()}`);
  }
  const publicUrl = m[1]!;
  return {
    ...srv,
    publicUrl,
    issuer: `${publicUrl}/oidc`,
    adminToken: token,
    dataDir,
    async close() {
      const code = await srv.stop();
      rmSync(dataDir, { recursive: true, force: true });
      return code;
    },
  };
}

/** The JSON body of a response that must have `status` (default 200). */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- the set-up reads fields of JSON answers
async function okJson(what: string, r: Response | Promise<Response>, status = 200): Promise<any> {
  const res = await r;
  const text = await res.text();
  if (res.status !== status) throw new Error(`${what}: ${res.status} ${text.slice(0, 500)}`);
  return text ? JSON.parse(text) : undefined;
}

// --- the protocol pieces ---------------------------------------------------------------------------

/** RFC 7636 §4.1-4.2: a fresh verifier (32 random bytes, base64url) and its S256 challenge. */
export function pkcePair(): { verifier: string; challenge: string } {
  const verifier = randomBytes(32).toString("base64url");
  return { verifier, challenge: createHash("sha256").update(verifier).digest("base64url") };
}

/** RFC 6749 §2.3.1: client_secret_basic, id and secret form-urlencoded before base64. */
export function basicAuth(clientId: string, secret: string): string {
  return `Basic ${Buffer.from(`${encodeURIComponent(clientId)}:${encodeURIComponent(secret)}`).toString("base64")}`;
}

export interface Enrolled {
  userId: string;
  clientId: string;
  clientSecret: string;
  /** A loopback URI on another origin than Tenet's, never fetched: the code is read off the Location. */
  redirectUri: string;
  scope: string;
  /** Endpoint paths from discovery (RFC 8414), relative to the server's origin. */
  authorizationPath: string;
  tokenPath: string;
  /** After the passkey sign-in: the provider session cookie for the authorization endpoint. */
  browser: Browser;
  /** The token response of the sign-in's own code (proves the whole path before any load). */
  firstTokens: Record<string, unknown>;
  /** Wall time of the set-up steps (ms). */
  ms: { enrol: number; signIn: number };
}

/** The authorization request (RFC 6749 §4.1.1 with PKCE) as a path and query on Tenet's origin. */
export function authorizationRequest(e: Pick<Enrolled, "authorizationPath" | "clientId" | "redirectUri" | "scope">, challenge: string, state: string): string {
  const q = new URLSearchParams({ client_id: e.clientId, response_type: "code", scope: e.scope, redirect_uri: e.redirectUri, code_challenge: challenge, code_challenge_method: "S256", state });
  return `${e.authorizationPath}?${q}`;
}

/** The user, the passkey, the client, and one sign-in (see the header). */
export async function enrol(srv: IdpProcess): Promise<Enrolled> {
  const t0 = performance.now();
  const admin = (method: string, path: string, body: unknown, status: number) =>
    okJson(`${method} ${path}`, fetch(`${srv.url}${path}`, { method, headers: { authorization: `Bearer ${srv.adminToken}`, "content-type": "application/json" }, body: JSON.stringify(body) }), status);

  const user = await admin("POST", "/identity/users", { username: "bench", email: "bench@example.com", email_verified: true }, 201);
  const inv = await admin("POST", `/identity/users/${user.id}/invitations`, {}, 201);
  const browser = new Browser(srv.publicUrl);
  const passkey = new SoftAuthenticator();
  const page = await browser.request(inv.url);
  if (page.status !== 200) throw new Error(`invitation page: ${page.status}`);
  const invite = pageData(await page.text());
  const regOpts = await okJson("passkey register-options", browser.postJson(`${invite.base}/passkey/register-options`, {}, invite.csrf));
  await okJson("passkey register", browser.postJson(`${invite.base}/passkey/register`, { handle: regOpts.handle, response: passkey.create(regOpts.options, srv.publicUrl), name: "bench key" }, invite.csrf));

  const redirectUri = "http://127.0.0.1:9/callback";
  const client = await admin("POST", "/identity/clients", { client_name: "Bench RP", redirect_uris: [redirectUri], token_endpoint_auth_method: "client_secret_basic", grant_types: ["authorization_code", "refresh_token"] }, 201);
  const meta = await okJson("discovery", fetch(`${srv.issuer}/.well-known/openid-configuration`));
  const path = (u: string) => {
    const url = new URL(u);
    if (url.origin !== srv.publicUrl) throw new Error(`discovery: ${u} is not on ${srv.publicUrl}`);
    return url.pathname;
  };
  const e: Omit<Enrolled, "firstTokens" | "ms"> = {
    userId: user.id,
    clientId: client.client_id,
    clientSecret: client.client_secret,
    redirectUri,
    scope: "openid profile email groups",
    authorizationPath: path(meta.authorization_endpoint),
    tokenPath: path(meta.token_endpoint),
    browser,
  };
  const enrolMs = performance.now() - t0;

  // The one interactive sign-in: authorization request → sign-in page → passkey → back at the RP.
  const t1 = performance.now();
  const { verifier, challenge } = pkcePair();
  const started = await browser.follow(authorizationRequest(e, challenge, "s0"));
  if (started.res.status !== 200) throw new Error(`expected the sign-in page, got ${started.res.status} at ${started.url}`);
  const signin = pageData(await started.res.text());
  const opts = await okJson("passkey options", browser.postJson(`${signin.base}/passkey/options`, {}, signin.csrf));
  const verified = await okJson("passkey verify", browser.postJson(`${signin.base}/passkey/verify`, { handle: opts.handle, response: passkey.get(opts.options, srv.publicUrl) }, signin.csrf));
  const back = await browser.follow(verified.redirect);
  const code = back.url.startsWith(redirectUri) ? new URL(back.url).searchParams.get("code") : null;
  if (!code) throw new Error(`the sign-in did not come back to the client with a code: ${back.res.status} ${back.url}`);
  const firstTokens = await okJson(
    "first code exchange",
    fetch(`${srv.url}${e.tokenPath}`, {
      method: "POST",
      headers: { authorization: basicAuth(e.clientId, e.clientSecret), "content-type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({ grant_type: "authorization_code", code, redirect_uri: redirectUri, code_verifier: verifier }),
    }),
  );
  return { ...e, firstTokens, ms: { enrol: enrolMs, signIn: performance.now() - t1 } };
}
