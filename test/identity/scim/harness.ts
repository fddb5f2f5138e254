/**
 * A real SCIM service for the suites: Fastify with the SCIM plugin over a Directory on a SQLite
 * datastore in a temporary directory, authenticated by Tenet's API-key authenticator (the admin
 * scope, as `tenet serve` requires), on a random local port. The root app has its own error and
 * not-found handlers in Tenet's shape, as the real server does, so the suites can check that
 * nothing of that shape leaks under /scim/v2.
 */
import { createHash } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Fastify, { type FastifyInstance } from "fastify";
import { ApiAuthenticator } from "../../../src/api/auth/authenticator.js";
import { registerScimRoutes } from "../../../src/api/scim/routes.js";
import { Directory } from "../../../src/identity/accounts/directory.js";
import { newApiKey, type Scope } from "../../../src/identity/api-keys/api-key.js";
import { type IdentityEvent, IdentityEvents } from "../../../src/identity/events.js";
import type { Datastore } from "../../../src/storage/interfaces.js";
import { openDatastore } from "../../../src/storage/open.js";

export const USER_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:User";
export const GROUP_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:Group";
export const ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
export const PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp";
export const ERROR_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:Error";
export const LIST_RESPONSE = "urn:ietf:params:scim:api:messages:2.0:ListResponse";

export interface ScimResponse {
  status: number;
  headers: Headers;
  text: string;
  json: any; // eslint-disable-line @typescript-eslint/no-explicit-any
}

export interface ScimServer {
  url: string;
  app: FastifyInstance;
  ds: Datastore;
  directory: Directory;
  events: IdentityEvent[];
  adminToken: string;
  key(scopes: Scope[]): Promise<string>;
  /** A request to `/scim/v2<path>` with the admin token (unless `token` is given; null: none). */
  scim(method: string, path: string, opts?: { body?: unknown; token?: string | null; headers?: Record<string, string> }): Promise<ScimResponse>;
  close(): Promise<void>;
}

export async function startScim(opts: { maxResults?: number; bodyLimit?: number; setup?: (app: FastifyInstance) => void } = {}): Promise<ScimServer> {
  const dir = mkdtempSync(join(tmpdir(), "tenet-scim-test-"));
  const ds = await openDatastore({ dataDir: dir });
  const events: IdentityEvent[] = [];
  const bus = new IdentityEvents();
  bus.on((e) => {
    events.push(e);
  });
  const directory = new Directory({ documents: ds, events: bus });
  const auth = new ApiAuthenticator(ds, null, 0);
  const app = Fastify({ bodyLimit: opts.bodyLimit ?? 64 * 1024 });
  app.setErrorHandler((err, _req, reply) => {
    const e = err as { statusCode?: number; message?: string };
    reply.code(e.statusCode ?? 500).send({ code: "tenet_root", message: e.message ?? "error" });
  });
  app.setNotFoundHandler((_req, reply) => {
    reply.code(404).send({ code: "undefined_endpoint", message: "root not found" });
  });
  registerScimRoutes(app, {
    directory,
    authenticate: async (req) => {
      (req as { principal?: unknown }).principal = await auth.authenticate(req, "admin");
    },
    ...(opts.maxResults !== undefined ? { maxResults: opts.maxResults } : {}),
  });
  opts.setup?.(app);
  await app.listen({ port: 0, host: "127.0.0.1" });
  const addr = app.server.address();
  if (typeof addr !== "object" || addr === null) throw new Error("no address");
  const url = `http://127.0.0.1:${addr.port}`;

  const key = async (scopes: Scope[]) => {
    const { token, record } = newApiKey({ name: "scim-test", scopes, stores: ["*"], rateLimit: 0 });
    await ds.createApiKey(record);
    return token;
  };
  const adminToken = await key(["admin"]);

  const scim: ScimServer["scim"] = async (method, path, o = {}) => {
    const headers: Record<string, string> = { ...(o.headers ?? {}) };
    const token = o.token === undefined ? adminToken : o.token;
    if (token !== null) headers.authorization = `Bearer ${token}`;
    let body: string | undefined;
    if (o.body !== undefined) {
      body = typeof o.body === "string" ? o.body : JSON.stringify(o.body);
      if (!Object.keys(headers).some((h) => h.toLowerCase() === "content-type")) headers["content-type"] = "application/scim+json";
    }
    const res = await fetch(`${url}/scim/v2${path}`, { method, headers, ...(body !== undefined ? { body } : {}), signal: AbortSignal.timeout(10_000) });
    const text = await res.text();
    let json: unknown;
    try {
      json = text === "" ? undefined : JSON.parse(text);
    } catch {
      json = undefined;
    }
    return { status: res.status, headers: res.headers, text, json };
  };

  return {
    url,
    app,
    ds,
    directory,
    events,
    adminToken,
    key,
    scim,
    close: async () => {
      await app.close();
      await ds.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** `?filter=...` (and more), encoded as Okta and Entra ID encode it. */
export function q(params: Record<string, string | number>): string {
  return "?" + Object.entries(params).map(([k, v]) => `${k}=${encodeURIComponent(String(v))}`).join("&");
}

/** A user as Okta creates it (Okta's SCIM 2.0 reference: a placeholder password is always sent). */
export function oktaUser(userName: string, extra: Record<string, unknown> = {}) {
  const [given = "Test", family = "User"] = userName.split("@")[0]!.split(".");
  return {
    schemas: [USER_SCHEMA],
    userName,
    name: { givenName: given, familyName: family },
    emails: [{ primary: true, value: userName, type: "work" }],
    displayName: `${given} ${family}`,
    locale: "en-US",
    externalId: `00u${createHash("sha256").update(userName).digest("hex").slice(0, 17)}`,
    groups: [],
    password: "1mz050nq",
    active: true,
    ...extra,
  };
}

/** A user as Entra ID's provisioning service creates it. */
export function entraUser(userName: string, externalId: string, extra: Record<string, unknown> = {}) {
  return {
    schemas: [USER_SCHEMA, ENTERPRISE],
    externalId,
    userName,
    active: true,
    emails: [{ primary: true, type: "work", value: userName }],
    meta: { resourceType: "User" },
    name: { formatted: "givenName familyName", familyName: "familyName", givenName: "givenName" },
    roles: [],
    ...extra,
  };
}

export function patchOp(...ops: unknown[]) {
  return { schemas: [PATCH_OP], Operations: ops };
}
