/**
 * The identity plane put together over one datastore: the directory, invitations, passkeys,
 * OAuth clients, signing keys, the OpenID provider and sessions with continuous evaluation.
 * `src/app/assemble.ts` builds it; the HTTP layer mounts `provider` and the sign-in pages.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import type Provider from "oidc-provider";
import type { MasterKey } from "../crypto/master-key.js";
import type { DocumentsBackend } from "../storage/interfaces.js";
import type { ChangeRecorder } from "../audit/change-recorder.js";
import { Directory, type DirectoryTuples } from "./accounts/directory.js";
import { Invitations } from "./accounts/invitations.js";
import { IdentityEvents } from "./events.js";
import { documentsAdapter, revokeGrant, sweepExpired } from "./oidc/adapter.js";
import { ClientRegistry } from "./oidc/clients.js";
import { loadCookieKeys } from "./oidc/cookie-keys.js";
import { SigningKeys } from "./oidc/keys.js";
import { createProvider, type OidcTtl } from "./oidc/provider.js";
import { Passkeys } from "./passkeys/passkeys.js";
import { Sessions } from "./sessions/sessions.js";
import { contentSecurityPolicy } from "./web/html.js";
import { createHash } from "node:crypto";

export interface IdentityPlaneOptions {
  documents: DocumentsBackend;
  master: MasterKey;
  /** The public URL of Tenet (e.g. https://id.example.com); the issuer is `<publicUrl>/oidc`. */
  publicUrl: string;
  rpName?: string;
  hardwareAaguids?: string[];
  ttl?: Partial<OidcTtl>;
  proxy?: boolean;
  tuples?: DirectoryTuples | undefined;
  /** Admin changes (users, groups, clients, keys) go to the audit log through this. */
  changes?: ChangeRecorder | undefined;
  onProblem?: (msg: string, err?: unknown) => void;
}

export const OIDC_PREFIX = "/oidc";
const MODELS = ["Session", "AccessToken", "AuthorizationCode", "RefreshToken", "ClientCredentials", "Interaction", "Grant", "ReplayDetection", "PushedAuthorizationRequest"];

export class IdentityPlane {
  readonly events: IdentityEvents;
  readonly directory: Directory;
  readonly invitations: Invitations;
  readonly passkeys: Passkeys;
  readonly clients: ClientRegistry;
  readonly keys: SigningKeys;
  /** Signs Tenet's own JWTs (security events, identity assertions) with the current key, kept in memory. */
  readonly jwtSigner: ReturnType<SigningKeys["signer"]>;
  readonly sessions: Sessions;
  readonly issuer: string;
  readonly publicUrl: string;
  /** Replaced on key rotation (the state is in storage, so nothing is lost). */
  provider!: Provider;
  cookieKeys: string[] = [];
  private handler!: (req: IncomingMessage, res: ServerResponse) => void;
  private sweepTimer: NodeJS.Timeout | undefined;
  private stopSessions: (() => void) | undefined;

  private constructor(private readonly o: IdentityPlaneOptions) {
    const onProblem = o.onProblem ?? (() => undefined);
    this.publicUrl = o.publicUrl.replace(/\/+$/, "");
    this.issuer = `${this.publicUrl}${OIDC_PREFIX}`;
    this.events = new IdentityEvents((err, e) => onProblem(`identity event ${e.type}: a listener failed`, err));
    this.directory = new Directory({ documents: o.documents, events: this.events, tuples: o.tuples, onProblem, changes: o.changes });
    this.invitations = new Invitations(o.documents);
    const origin = new URL(this.publicUrl);
    this.passkeys = new Passkeys({
      documents: o.documents,
      rpId: origin.hostname,
      rpName: o.rpName ?? "Tenet",
      origins: [origin.origin],
      hardwareAaguids: o.hardwareAaguids ?? [],
      events: this.events,
    });
    this.clients = new ClientRegistry(o.documents, o.master, { changes: o.changes });
    this.keys = new SigningKeys(o.documents, o.master);
    this.jwtSigner = this.keys.signer();
    this.sessions = new Sessions({ documents: o.documents, events: this.events, onProblem });
  }

  static async open(o: IdentityPlaneOptions): Promise<IdentityPlane> {
    const plane = new IdentityPlane(o);
    await plane.keys.ensure();
    plane.cookieKeys = await loadCookieKeys(o.documents, o.master);
    await plane.rebuild();
    const Adapter = documentsAdapter(o.documents);
    const sessionsAdapter = new Adapter("Session");
    plane.sessions.attach({
      findSession: async (id) => (await sessionsAdapter.find(id)) as never,
      destroySession: (id) => sessionsAdapter.destroy(id).then(() => plane.sessions.track(id, {}, true)),
      saveSession: async (id, payload) => {
        const exp = typeof payload.exp === "number" ? payload.exp - Math.floor(Date.now() / 1000) : 3600;
        await sessionsAdapter.upsert(id, payload as never, Math.max(1, exp));
      },
      revokeGrant: (grantId) => revokeGrant(o.documents, grantId),
      backchannelLogout: async (clientId, accountId, sid) => {
        const client = await plane.provider.Client.find(clientId);
        if (client?.backchannelLogoutUri) await (client as unknown as { backchannelLogout(a: string, s: string): Promise<void> }).backchannelLogout(accountId, sid);
      },
    });
    plane.stopSessions = plane.sessions.listen(plane.events);
    return plane;
  }

  /** (Re)creates the provider from the stored keys: at start and after a key rotation. */
  async rebuild(): Promise<void> {
    const jwks = await this.keys.privateJwks();
    const provider = createProvider({
      issuer: this.issuer,
      documents: this.o.documents,
      directory: this.directory,
      clients: this.clients,
      jwks,
      cookieKeys: this.cookieKeys,
      interactionUrl: (uid) => `/signin/${uid}`,
      hooks: { onSession: (id, payload, removed) => this.sessions.track(id, payload as Record<string, unknown>, removed) },
      ...(this.o.ttl ? { ttl: this.o.ttl } : {}),
      ...(this.o.proxy !== undefined ? { proxy: this.o.proxy } : {}),
    });
    this.provider = provider;
    this.handler = provider.callback();
  }

  async rotateKeys() {
    const keys = await this.keys.rotate();
    this.jwtSigner.invalidate();
    await this.rebuild();
    await this.o.changes?.record({ type: "identity.keys.rotate", activity: "update", entity: { type: "signing_keys", uid: "oidc" }, details: { keys: keys.map((k) => `${k.kid}:${k.alg}:${k.state}`) } });
    return keys;
  }

  /** Serves a request under `/oidc` (returns false for any other path). */
  handle(req: IncomingMessage, res: ServerResponse): boolean {
    const url = req.url ?? "/";
    if (!(url === OIDC_PREFIX || url.startsWith(`${OIDC_PREFIX}/`) || url.startsWith(`${OIDC_PREFIX}?`))) return false;
    // The library computes its own URLs from the part of the path it was mounted at.
    (req as IncomingMessage & { originalUrl?: string }).originalUrl = url;
    req.url = url.slice(OIDC_PREFIX.length) || "/";
    // The provider's own pages (errors, logout, form_post) get the same strict headers as Tenet's
    // pages; its form_post adds the hash of its one inline script to this policy itself. Logout
    // forms may post on to any relying party.
    res.setHeader("content-security-policy", contentSecurityPolicy({ anyFormTarget: true }));
    res.setHeader("x-frame-options", "DENY");
    res.setHeader("x-content-type-options", "nosniff");
    res.setHeader("referrer-policy", "no-referrer");
    allowOwnInlineScripts(res);
    this.handler(req, res);
    return true;
  }

  /**
   * The account behind an access token of this provider (for Tenet's own APIs and pages), if it
   * is active and its session still lives.
   */
  async accountOfAccessToken(token: string): Promise<{ userId: string; clientId: string } | undefined> {
    const id = await this.identityOfAccessToken(token);
    return id ? { userId: id.userId, clientId: id.clientId } : undefined;
  }

  /**
   * Who an access token of this provider speaks for, with how they signed in (from the live
   * session: revoking it ends this at once), for enforcement points and middleware; undefined when
   * the token, its grant, its session or its account is no longer valid.
   */
  async identityOfAccessToken(token: string): Promise<{ userId: string; clientId: string; sessionId?: string | undefined; acr?: string | undefined; amr?: string[] | undefined; authTime?: number | undefined; groups: string[]; email?: string | undefined; expiresAt?: number | undefined } | undefined> {
    if (typeof token !== "string" || token.length < 16 || token.length > 512) return undefined;
    // The session binding is checked here rather than by the library's find, which would read
    // the session a second time: this runs on every request through the proxy.
    const at = await this.provider.AccessToken.find(token, { ignoreSessionBinding: true } as { ignoreExpiration?: boolean });
    if (!at || at.isExpired || !at.accountId) return undefined;
    const [grant, session] = await Promise.all([at.grantId ? this.provider.Grant.find(at.grantId) : undefined, at.sessionUid ? this.provider.Session.findByUid(at.sessionUid) : undefined]);
    if (at.grantId && !grant) return undefined;
    if (at.expiresWithSession && (!session || session.accountId !== at.accountId || session.grantIdFor(at.clientId ?? "") !== at.grantId)) return undefined;
    const user = await this.directory.getUser(at.accountId);
    if (!user || user.status !== "active") return undefined;
    return {
      userId: user.id,
      clientId: at.clientId ?? "",
      sessionId: at.sessionUid,
      acr: session?.acr,
      amr: session?.amr,
      authTime: session?.loginTs,
      groups: await this.directory.groupNames(user),
      email: user.email,
      expiresAt: at.exp,
    };
  }

  /** Background work: expired codes, tokens, sessions and ceremonies are deleted every 10 minutes. */
  start(): void {
    const sweep = () => {
      sweepExpired(this.o.documents, MODELS, Date.now())
        .then(() => this.passkeys.sweep())
        .catch((err) => this.o.onProblem?.("identity: sweeping expired entries failed", err));
    };
    this.sweepTimer = setInterval(sweep, 600_000);
    this.sweepTimer.unref();
  }

  stop(): void {
    if (this.sweepTimer) clearInterval(this.sweepTimer);
    this.stopSessions?.();
  }
}

/**
 * A few of the library's own pages (the device flow's "continue" step) submit a form with a small
 * inline script. Rather than allowing inline scripts, the policy names exactly those scripts by
 * hash (CSP Level 2 `'sha256-…'`), computed from the page as it is sent.
 */
function allowOwnInlineScripts(res: ServerResponse): void {
  const end = res.end.bind(res) as (...args: unknown[]) => ServerResponse;
  (res as { end: (...args: unknown[]) => ServerResponse }).end = (...args: unknown[]) => {
    const body = args[0];
    if (!res.headersSent && (typeof body === "string" || Buffer.isBuffer(body)) && String(res.getHeader("content-type") ?? "").startsWith("text/html")) {
      const hashes = [...String(body).matchAll(/<script>([\s\S]*?)<\/script>/g)].map((m) => `'sha256-${createHash("sha256").update(m[1]!).digest("base64")}'`);
      if (hashes.length > 0) {
        const csp = String(res.getHeader("content-security-policy") ?? "");
        res.setHeader("content-security-policy", csp.replace("script-src 'self'", `script-src 'self' ${hashes.join(" ")}`));
      }
    }
    return end(...args);
  };
}
