/**
 * OAuth clients (relying parties and services) registered by administrators: their metadata in
 * documents, their secret sealed with the master key (the library compares secrets in the clear,
 * so it must be recoverable, but a copy of the database alone does not reveal it). The provider
 * reads clients through `find`, which unseals; the API never returns a secret except once, when it
 * is made.
 */
import { randomBytes } from "node:crypto";
import { z } from "zod";
import { TenetError } from "../../errors.js";
import type { MasterKey, SealedBox } from "../../crypto/master-key.js";
import { DocumentConflict, type DocumentsBackend } from "../../storage/interfaces.js";
import type { ChangeRecorder } from "../../audit/change-recorder.js";

export const CLIENTS = "identity.clients";
const PURPOSE = "tenet/oidc-client-secret/v1";

const CLIENT_ID = /^[A-Za-z0-9][A-Za-z0-9._:-]{2,127}$/;
/** RFC 8628 device authorization grant (for command-line tools and devices without a browser). */
export const DEVICE_CODE_GRANT = "urn:ietf:params:oauth:grant-type:device_code";

function isAllowedRedirect(u: string, loopbackHttp: boolean): boolean {
  let url: URL;
  try {
    url = new URL(u);
  } catch {
    return false;
  }
  if (url.hash) return false;
  if (url.protocol === "https:") return true;
  // RFC 8252 §7.3: native apps and development use loopback over plain http.
  if (url.protocol === "http:") return loopbackHttp && ["localhost", "127.0.0.1", "[::1]"].includes(url.hostname);
  // Private-use URI schemes of native apps (RFC 8252 §7.1): reverse domain names.
  return /^[a-z][a-z0-9+.-]*\.[a-z0-9+.-]+:$/.test(url.protocol);
}

export const clientInput = z
  .object({
    client_id: z.string().regex(CLIENT_ID, "letters, digits and . _ : - (3–128)").optional(),
    client_name: z.string().min(1).max(200),
    redirect_uris: z.array(z.string().max(2000)).max(50).default([]),
    post_logout_redirect_uris: z.array(z.string().max(2000)).max(50).default([]),
    grant_types: z.array(z.enum(["authorization_code", "refresh_token", "client_credentials", DEVICE_CODE_GRANT])).min(1).max(4).default(["authorization_code", "refresh_token"]),
    /** `none`: a public client (SPA, native app), which must use PKCE (always required here). */
    token_endpoint_auth_method: z.enum(["client_secret_basic", "client_secret_post", "none"]).default("client_secret_basic"),
    scope: z.string().max(1000).regex(/^[\x21\x23-\x5b\x5d-\x7e]+( [\x21\x23-\x5b\x5d-\x7e]+)*$/, "space-separated scope tokens").optional(),
    backchannel_logout_uri: z.string().max(2000).optional(),
    backchannel_logout_session_required: z.boolean().optional(),
    default_acr_values: z.array(z.string().max(200)).max(10).optional(),
    default_max_age: z.number().int().min(0).max(31_536_000).optional(),
    id_token_signed_response_alg: z.enum(["ES256", "RS256"]).default("ES256"),
  })
  .strict();

export type ClientInput = z.input<typeof clientInput>;

export interface ClientRecord {
  client_id: string;
  client_name: string;
  redirect_uris: string[];
  post_logout_redirect_uris: string[];
  grant_types: string[];
  response_types: string[];
  token_endpoint_auth_method: string;
  scope?: string | undefined;
  backchannel_logout_uri?: string | undefined;
  backchannel_logout_session_required?: boolean | undefined;
  default_acr_values?: string[] | undefined;
  default_max_age?: number | undefined;
  id_token_signed_response_alg: string;
  created_at: string;
}

interface StoredClient extends ClientRecord {
  sealedSecret?: SealedBox | undefined;
}

export interface ClientRegistryOptions {
  /** Allow http://localhost redirect URIs (RFC 8252 loopback; default true). */
  loopbackHttp?: boolean;
  /** Every change, in the audit log (a new secret only as its HMAC). */
  changes?: ChangeRecorder | undefined;
}

export class ClientRegistry {
  /** Unsealed metadata by id, dropped on every change (a replica sees another's change within `cacheMs`). */
  private readonly cache = new Map<string, { at: number; meta: Record<string, unknown> | undefined }>();
  private readonly cacheMs = 5000;

  constructor(
    private readonly docs: DocumentsBackend,
    private readonly master: MasterKey,
    private readonly opts: ClientRegistryOptions = {},
  ) {}

  /** Registers a client; returns it with its secret (shown this once) for confidential clients. */
  async create(input: ClientInput): Promise<{ client: ClientRecord; client_secret?: string }> {
    const parsed = this.parse(input);
    const clientId = parsed.client_id ?? `tenet-${randomBytes(12).toString("base64url")}`;
    const confidential = parsed.token_endpoint_auth_method !== "none";
    const secret = confidential ? randomBytes(32).toString("base64url") : undefined;
    const rec: StoredClient = { ...this.record(clientId, parsed), sealedSecret: secret ? this.master.seal(PURPOSE, Buffer.from(secret)) : undefined };
    try {
      await this.docs.putDocument(CLIENTS, clientId, rec, 0);
    } catch (err) {
      if (err instanceof DocumentConflict) throw new TenetError("conflict", `client ${clientId} already exists`);
      throw err;
    }
    this.cache.delete(clientId);
    await this.opts.changes?.record({ type: "identity.client.create", activity: "create", entity: { type: "oauth_client", uid: clientId }, details: { grant_types: rec.grant_types, redirect_uris: rec.redirect_uris }, ...(secret ? { secrets: { client_secret: secret } } : {}) });
    return { client: publicRecord(rec), ...(secret ? { client_secret: secret } : {}) };
  }

  async get(clientId: string): Promise<ClientRecord | undefined> {
    const r = CLIENT_ID.test(clientId) ? await this.docs.getDocument<StoredClient>(CLIENTS, clientId) : undefined;
    return r ? publicRecord(r.body) : undefined;
  }

  async list(opts: { after?: string | undefined; limit?: number | undefined } = {}): Promise<ClientRecord[]> {
    const rows = await this.docs.listDocuments<StoredClient>(CLIENTS, { ...(opts.after ? { after: opts.after } : {}), limit: Math.min(opts.limit ?? 100, 1000) });
    return rows.map((r) => publicRecord(r.body));
  }

  /** Replaces the metadata (the secret stays). */
  async update(clientId: string, input: ClientInput): Promise<ClientRecord> {
    const r = await this.docs.getDocument<StoredClient>(CLIENTS, clientId);
    if (!r) throw new TenetError("not_found", `client ${clientId} does not exist`);
    const parsed = this.parse({ ...input, client_id: clientId });
    if ((parsed.token_endpoint_auth_method === "none") !== (r.body.token_endpoint_auth_method === "none")) {
      throw new TenetError("validation_error", "a client cannot change between public (none) and confidential: register a new one");
    }
    const rec: StoredClient = { ...this.record(clientId, parsed), created_at: r.body.created_at, sealedSecret: r.body.sealedSecret };
    await this.docs.putDocument(CLIENTS, clientId, rec, r.version);
    this.cache.delete(clientId);
    await this.opts.changes?.record({ type: "identity.client.update", activity: "update", entity: { type: "oauth_client", uid: clientId }, details: { grant_types: rec.grant_types, redirect_uris: rec.redirect_uris } });
    return publicRecord(rec);
  }

  /** A new secret for a confidential client; the old one stops working at once. */
  async rotateSecret(clientId: string): Promise<string> {
    const r = await this.docs.getDocument<StoredClient>(CLIENTS, clientId);
    if (!r) throw new TenetError("not_found", `client ${clientId} does not exist`);
    if (r.body.token_endpoint_auth_method === "none") throw new TenetError("validation_error", "a public client has no secret");
    const secret = randomBytes(32).toString("base64url");
    await this.docs.putDocument(CLIENTS, clientId, { ...r.body, sealedSecret: this.master.seal(PURPOSE, Buffer.from(secret)) }, r.version);
    this.cache.delete(clientId);
    await this.opts.changes?.record({ type: "identity.client.rotate_secret", activity: "update", entity: { type: "oauth_client", uid: clientId }, secrets: { client_secret: secret } });
    return secret;
  }

  async delete(clientId: string): Promise<boolean> {
    this.cache.delete(clientId);
    const deleted = CLIENT_ID.test(clientId) ? await this.docs.deleteDocument(CLIENTS, clientId) : false;
    if (deleted) await this.opts.changes?.record({ type: "identity.client.delete", activity: "delete", entity: { type: "oauth_client", uid: clientId } });
    return deleted;
  }

  /** The metadata as the provider needs it (secret unsealed); undefined for an unknown client. */
  async find(clientId: string): Promise<Record<string, unknown> | undefined> {
    const hit = this.cache.get(clientId);
    if (hit && Date.now() - hit.at < this.cacheMs) return hit.meta;
    const r = CLIENT_ID.test(clientId) ? await this.docs.getDocument<StoredClient>(CLIENTS, clientId) : undefined;
    let meta: Record<string, unknown> | undefined;
    if (r) {
      const { sealedSecret, created_at: _created, ...rest } = r.body;
      meta = Object.fromEntries(Object.entries(rest).filter(([, v]) => v !== undefined));
      if (sealedSecret) meta.client_secret = this.master.open(PURPOSE, sealedSecret).toString("utf8");
    }
    if (this.cache.size > 10_000) this.cache.clear();
    this.cache.set(clientId, { at: Date.now(), meta });
    return meta;
  }

  private parse(input: ClientInput): z.output<typeof clientInput> {
    const r = clientInput.safeParse(input);
    if (!r.success) throw new TenetError("validation_error", `invalid client: ${r.error.issues.map((i) => `${i.path.join(".") || "client"}: ${i.message}`).join("; ")}`);
    const c = r.data;
    const loopback = this.opts.loopbackHttp !== false;
    for (const u of [...c.redirect_uris, ...c.post_logout_redirect_uris]) {
      if (!isAllowedRedirect(u, loopback)) throw new TenetError("validation_error", `invalid client: ${u} is not an allowed redirect URI (https, http on loopback, or a private-use scheme; no fragment)`);
    }
    if (c.backchannel_logout_uri !== undefined && !isAllowedRedirect(c.backchannel_logout_uri, loopback)) throw new TenetError("validation_error", "invalid client: backchannel_logout_uri must be https (or http on loopback)");
    const code = c.grant_types.includes("authorization_code");
    if (code && c.redirect_uris.length === 0) throw new TenetError("validation_error", "invalid client: the authorization_code grant needs at least one redirect_uri");
    if (c.grant_types.includes("client_credentials") && c.token_endpoint_auth_method === "none") throw new TenetError("validation_error", "invalid client: client_credentials needs a confidential client");
    return c;
  }

  private record(clientId: string, c: z.output<typeof clientInput>): ClientRecord {
    return {
      client_id: clientId,
      client_name: c.client_name,
      redirect_uris: c.redirect_uris,
      post_logout_redirect_uris: c.post_logout_redirect_uris,
      grant_types: c.grant_types,
      response_types: c.grant_types.includes("authorization_code") ? ["code"] : [],
      token_endpoint_auth_method: c.token_endpoint_auth_method,
      scope: c.scope,
      backchannel_logout_uri: c.backchannel_logout_uri,
      backchannel_logout_session_required: c.backchannel_logout_session_required,
      default_acr_values: c.default_acr_values,
      default_max_age: c.default_max_age,
      id_token_signed_response_alg: c.id_token_signed_response_alg,
      created_at: new Date().toISOString(),
    };
  }
}

function publicRecord(s: StoredClient): ClientRecord {
  const { sealedSecret: _s, ...rest } = s;
  return Object.fromEntries(Object.entries(rest).filter(([, v]) => v !== undefined)) as unknown as ClientRecord;
}
