/**
 * Starts Tenet's HTTP server in-process, assembled as `tenet serve` assembles it (src/app/assemble.ts:
 * SQLite datastore in a temporary directory, API-key/JWT authentication, AuthZEN, access, JIT and
 * metrics routes) on a random local port, and offers a small fetch helper. Shared by the test/api
 * suites.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { FastifyInstance } from "fastify";
import type { ApiAuthenticator } from "../../src/api/auth/authenticator.js";
import type { JwtVerifier } from "../../src/api/auth/jwt.js";
import { assemble } from "../../src/app/assemble.js";
import { parseAccessConfig } from "../../src/config/access-config.js";
import type { AccessDecisionPoint } from "../../src/policy/access/decision-point.js";
import { newApiKey, type Scope } from "../../src/identity/api-keys/api-key.js";
import type { JitService } from "../../src/policy/jit/service.js";
import type { Outbox } from "../../src/policy/jit/outbox.js";
import type { PolicyService } from "../../src/policy/service.js";
import type { Datastore } from "../../src/storage/interfaces.js";
import { openDatastore } from "../../src/storage/open.js";

export interface ServerOptions {
  jwt?: JwtVerifier | null;
  /** The authenticator's key cache time (ms). */
  cacheMs?: number;
  bodyLimit?: number;
  requestTimeoutMs?: number;
  /**
   * An access configuration (the YAML file's content as an object: risk, zones, jit, notify).
   * Given, decisions are assessed by the risk engine as in `tenet serve`; without it there is no
   * risk engine (risk 0 unless a request brings its own), which the older suites expect.
   */
  access?: unknown;
  /** Where `secretEnv` in `access` is looked up (default process.env). */
  env?: NodeJS.ProcessEnv;
}

export interface TestServer {
  url: string;
  app: FastifyInstance;
  ds: Datastore;
  policy: PolicyService;
  auth: ApiAuthenticator;
  jit: JitService;
  outbox: Outbox;
  /** An admin key for every store. */
  adminToken: string;
  /** AuthZEN options; `defaultStoreId` is read on every request, so tests may set it later. */
  authzen: { defaultStoreId?: string | undefined; baseUrl: () => string; access?: AccessDecisionPoint };
  /** Creates an API key; returns the token and its id. */
  key(opts: { scopes: Scope[]; stores?: string[]; rateLimit?: number; name?: string }): Promise<{ token: string; id: string }>;
  close(): Promise<void>;
}

export async function startServer(opts: ServerOptions = {}): Promise<TestServer> {
  const dir = mkdtempSync(join(tmpdir(), "tenet-api-test-"));
  const ds = await openDatastore({ dataDir: dir });
  let url = "";
  const parts = await assemble({
    ds,
    dataDir: dir,
    env: opts.env ?? process.env,
    access: parseAccessConfig(opts.access ?? {}, { env: opts.env ?? process.env, baseDir: dir }),
    riskEngine: opts.access !== undefined,
    jwt: opts.jwt ?? null,
    authCacheMs: opts.cacheMs ?? 5000,
    logLevel: "silent",
    ...(opts.bodyLimit !== undefined ? { bodyLimit: opts.bodyLimit } : {}),
    ...(opts.requestTimeoutMs !== undefined ? { requestTimeoutMs: opts.requestTimeoutMs } : {}),
    authzen: { defaultStoreId: undefined, baseUrl: () => url },
  });
  const { app } = parts;
  await app.listen({ port: 0, host: "127.0.0.1" });
  const addr = app.server.address();
  if (typeof addr !== "object" || addr === null) throw new Error("server has no address");
  url = `http://127.0.0.1:${addr.port}`;

  const key: TestServer["key"] = async (k) => {
    const { token, record } = newApiKey({ name: k.name ?? "test", scopes: k.scopes, stores: k.stores ?? ["*"], rateLimit: k.rateLimit ?? 0 });
    await ds.createApiKey(record);
    return { token, id: record.id };
  };
  const adminToken = (await key({ scopes: ["admin"], name: "admin" })).token;
  return {
    url,
    app,
    ds,
    policy: parts.policy,
    auth: parts.auth,
    jit: parts.jit,
    outbox: parts.outbox,
    adminToken,
    authzen: parts.authzen,
    key,
    close: async () => {
      await parts.close();
      await ds.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export interface ApiResponse {
  status: number;
  headers: Headers;
  text: string;
  /** The parsed body, or undefined when it is not JSON. */
  json: any; // eslint-disable-line @typescript-eslint/no-explicit-any
}

/** One HTTP request; `body` is sent as JSON unless it is a string (sent as is). */
export async function call(
  url: string,
  method: string,
  path: string,
  opts: { token?: string | undefined; body?: unknown; headers?: Record<string, string>; timeoutMs?: number } = {},
): Promise<ApiResponse> {
  const headers: Record<string, string> = { ...(opts.headers ?? {}) };
  if (opts.token !== undefined) headers.authorization = `Bearer ${opts.token}`;
  let body: string | undefined;
  if (opts.body !== undefined) {
    body = typeof opts.body === "string" ? opts.body : JSON.stringify(opts.body);
    if (!Object.keys(headers).some((h) => h.toLowerCase() === "content-type")) headers["content-type"] = "application/json";
  }
  const res = await fetch(url + path, { method, headers, ...(body !== undefined ? { body } : {}), signal: AbortSignal.timeout(opts.timeoutMs ?? 10_000) });
  const text = await res.text();
  let json: unknown;
  try {
    json = text === "" ? undefined : JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: res.status, headers: res.headers, text, json };
}

/** A client bound to a server and a token. */
export function client(url: string, token?: string) {
  return (method: string, path: string, body?: unknown, headers?: Record<string, string>) =>
    call(url, method, path, { token, body, ...(headers ? { headers } : {}) });
}

/** The document-sharing model used by several suites (with a condition). */
export const DOCS_MODEL = {
  schema_version: "1.1",
  type_definitions: [
    { type: "user" },
    {
      type: "group",
      relations: { member: { this: {} } },
      metadata: { relations: { member: { directly_related_user_types: [{ type: "user" }] } } },
    },
    {
      type: "folder",
      relations: { viewer: { this: {} } },
      metadata: { relations: { viewer: { directly_related_user_types: [{ type: "user" }, { type: "group", relation: "member" }] } } },
    },
    {
      type: "document",
      relations: {
        parent: { this: {} },
        owner: { this: {} },
        editor: { union: { child: [{ this: {} }, { computedUserset: { relation: "owner" } }] } },
        viewer: {
          union: {
            child: [
              { this: {} },
              { computedUserset: { relation: "editor" } },
              { tupleToUserset: { tupleset: { relation: "parent" }, computedUserset: { relation: "viewer" } } },
            ],
          },
        },
      },
      metadata: {
        relations: {
          parent: { directly_related_user_types: [{ type: "folder" }] },
          owner: { directly_related_user_types: [{ type: "user" }] },
          editor: { directly_related_user_types: [{ type: "user" }, { type: "group", relation: "member" }] },
          viewer: {
            directly_related_user_types: [
              { type: "user" },
              { type: "user", wildcard: {} },
              { type: "group", relation: "member" },
              { type: "user", condition: "in_office_hours" },
            ],
          },
        },
      },
    },
  ],
  conditions: {
    in_office_hours: {
      name: "in_office_hours",
      expression: "hour >= 9 && hour < 17",
      parameters: { hour: { type_name: "TYPE_NAME_INT" } },
    },
  },
};
