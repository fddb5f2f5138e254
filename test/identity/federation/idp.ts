/**
 * A real upstream OpenID provider for the federation tests: `oidc-provider` 8 on a random port
 * with its in-memory adapter (it is the peer here, not the thing under test), one confidential
 * client, and a minimal interaction route that signs in whoever the test names next (with the
 * acr/amr the test chooses) or ends the interaction with an error. Plus a cookie-carrying,
 * redirect-following "browser" built on fetch.
 */
import { generateKeyPairSync } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import Provider from "oidc-provider";

export interface UpstreamAccount {
  sub: string;
  email?: string;
  email_verified?: boolean;
  preferred_username?: string;
  name?: string;
  groups?: string[];
}

export type NextLogin = { accountId: string; acr?: string; amr?: string[] } | { error: string; description?: string };

export interface Idp {
  issuer: string;
  clientId: string;
  clientSecret: string;
  accounts: Map<string, UpstreamAccount>;
  /** Who the interaction signs in next (or the error it ends with). */
  next: NextLogin;
  /** Registers the client with these redirect URIs (before the first sign-in). */
  start(redirectUris: string[]): void;
  close(): Promise<void>;
}

/** Listens first (so the issuer's port is known), serves once `start` configures the provider. */
export async function createIdp(opts: { clientId?: string; clientSecret?: string; port?: number } = {}): Promise<Idp> {
  let handler: ((req: IncomingMessage, res: ServerResponse) => void) | undefined;
  const server: Server = createServer((req, res) => {
    if (!handler) {
      res.statusCode = 503;
      res.end("not started");
      return;
    }
    handler(req, res);
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(opts.port ?? 0, "127.0.0.1", () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  const idp: Idp = {
    issuer: `http://127.0.0.1:${port}`,
    clientId: opts.clientId ?? "tenet",
    clientSecret: opts.clientSecret ?? "upstream-client-secret-7f3a9c",
    accounts: new Map(),
    next: { accountId: "nobody" },
    start(redirectUris) {
      const key = generateKeyPairSync("rsa", { modulusLength: 2048 }).privateKey.export({ format: "jwk" });
      const provider = new Provider(idp.issuer, {
        clients: [
          {
            client_id: idp.clientId,
            client_secret: idp.clientSecret,
            redirect_uris: redirectUris,
            grant_types: ["authorization_code"],
            response_types: ["code"],
            token_endpoint_auth_method: "client_secret_basic",
          },
        ],
        jwks: { keys: [{ ...key, kid: "k1", use: "sig", alg: "RS256" } as never] },
        // `groups` is released with the `groups` scope (as Okta and Keycloak do); scope claims
        // go to UserInfo, not the ID token (conformIdTokenClaims, OIDC Core §5.4). acr, amr and
        // auth_time are in every ID token (by default only when the request asked for them).
        claims: { sid: null, openid: ["sub", "acr", "amr", "auth_time"], email: ["email", "email_verified"], profile: ["preferred_username", "name"], groups: ["groups"] },
        findAccount: async (_ctx, sub) => {
          const a = idp.accounts.get(sub);
          if (!a) return undefined;
          return { accountId: sub, claims: async () => ({ ...a, sub }) };
        },
        features: { devInteractions: { enabled: false } },
        interactions: { url: (_ctx, interaction) => `/interaction/${interaction.uid}` },
        cookies: { keys: ["idp-test-cookie-key-0123456789abcdef"] },
        pkce: { required: () => true, methods: ["S256"] },
        acrValues: ["urn:idp:loa:1", "urn:idp:loa:phr", "http://schemas.openid.net/pape/policies/2007/06/multi-factor"],
      });
      const callback = provider.callback();
      handler = (req, res) => {
        const m = /^\/interaction\/([^/?]+)$/.exec(req.url ?? "");
        if (!m || req.method !== "GET") {
          callback(req, res);
          return;
        }
        void (async () => {
          try {
            const details = await provider.interactionDetails(req, res);
            const next = idp.next;
            if ("error" in next) {
              await provider.interactionFinished(req, res, { error: next.error, error_description: next.description ?? "the user said no" }, { mergeWithLastSubmission: false });
              return;
            }
            const grant = new provider.Grant({ accountId: next.accountId, clientId: String(details.params.client_id) });
            grant.addOIDCScope(String(details.params.scope));
            const grantId = await grant.save();
            await provider.interactionFinished(req, res, {
              login: { accountId: next.accountId, ...(next.acr ? { acr: next.acr } : {}), ...(next.amr ? { amr: next.amr } : {}) },
              consent: { grantId },
            });
          } catch (err) {
            res.statusCode = 500;
            res.end(String(err));
          }
        })();
      };
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
  return idp;
}

/**
 * Follows redirects from `start` with a fresh cookie jar (one browser, one sign-in) until a
 * Location begins with `stopAt`; returns that URL. Cookies are kept per host:port, by name.
 */
export async function browse(start: string, stopAt: string, jar = new Map<string, Map<string, string>>()): Promise<URL> {
  let url = new URL(start);
  for (let hop = 0; hop < 20; hop++) {
    const res = await send(url, jar);
    const location = res.headers.get("location");
    const body = await res.text();
    if (!location) throw new Error(`no redirect from ${url.href}: ${res.status} ${body.slice(0, 300)}`);
    const next = new URL(location, url);
    if (next.href.startsWith(stopAt)) return next;
    url = next;
  }
  throw new Error("too many redirects");
}

/** One GET with the jar's cookies for that host; Set-Cookie headers update the jar. */
export async function send(url: URL, jar: Map<string, Map<string, string>>): Promise<Response> {
  const cookies = jar.get(url.host) ?? new Map<string, string>();
  jar.set(url.host, cookies);
  const res = await fetch(url, { redirect: "manual", headers: cookies.size > 0 ? { cookie: [...cookies].map(([k, v]) => `${k}=${v}`).join("; ") } : {} });
  for (const line of res.headers.getSetCookie()) {
    const [pair, ...attrs] = line.split(";");
    const eq = pair!.indexOf("=");
    const name = pair!.slice(0, eq).trim();
    const value = pair!.slice(eq + 1).trim();
    const gone = value === "" || attrs.some((a) => /^\s*max-age=0\s*$/i.test(a) || (/^\s*expires=/i.test(a) && Date.parse(a.split("=")[1]!) < Date.now()));
    if (gone) cookies.delete(name);
    else cookies.set(name, value);
  }
  return res;
}
