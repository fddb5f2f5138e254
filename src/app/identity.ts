/**
 * The identity plane wired for `tenet serve`: the provider and its pages, second factors,
 * lockout and rate limits, shared signals (CAEP) to receivers, and the admin API. Kept apart from
 * assemble.ts so that each stays readable.
 */
import type { FastifyInstance } from "fastify";
import type { AuditPlane } from "../audit/setup.js";
import { authenticationEvent } from "../audit/events.js";
import type { IdentityConfig } from "../config/identity-config.js";
import type { MasterKey } from "../crypto/master-key.js";
import { Lockout } from "../identity/abuse/lockout.js";
import { SignInLimits } from "../identity/abuse/rate-limits.js";
import { RecoveryCodes } from "../identity/factors/recovery-codes.js";
import { TotpFactors } from "../identity/factors/totp.js";
import { IdentityPlane } from "../identity/idp.js";
import { DEVICE_CODE_GRANT } from "../identity/oidc/clients.js";
import { ReceiverRegistry } from "../identity/signals/receivers.js";
import { Transmitter } from "../identity/signals/transmitter.js";
import type { HistoryStore } from "../policy/risk/history.js";
import type { PolicyService } from "../policy/service.js";
import type { Datastore } from "../storage/interfaces.js";
import { SignInGuard, type AbuseControls } from "../api/signin/guard.js";
import { ACCOUNT_CLIENT_ID, registerSignInRoutes } from "../api/signin/routes.js";
import type { Router } from "../api/route.js";
import { registerSignalRoutes } from "../api/signals/routes.js";
import { registerIdentityRoutes } from "../api/identity/routes.js";
import { ssfConfiguration, ssfConfigurationPath } from "../identity/signals/configuration.js";
import { parseFederationConfig } from "../identity/federation/config.js";
import { Federation } from "../identity/federation/federation.js";
import { federationRedirectUri, registerFederationRoutes } from "../api/federation/routes.js";
import { federationTicket } from "../api/signin/routes.js";
import { registerScimRoutes } from "../api/scim/routes.js";
import type { Authenticator } from "../api/auth/authenticator.js";

export interface IdentityParts {
  idp: IdentityPlane;
  totp: TotpFactors;
  recovery: RecoveryCodes;
  lockout: Lockout;
  limits: SignInLimits;
  receivers: ReceiverRegistry;
  transmitter: Transmitter;
  guard: SignInGuard;
  /** Routes on Tenet's router (admin API). */
  plugins: Array<(r: Router) => void>;
  /** Routes on Fastify itself (pages, well-known documents). */
  registerPages(app: FastifyInstance): void;
  start(): Promise<void>;
  stop(): Promise<void>;
}

export interface IdentityAssemblyOptions {
  ds: Datastore;
  master: MasterKey;
  config: IdentityConfig;
  publicUrl: string;
  audit: AuditPlane;
  policy: PolicyService;
  history?: HistoryStore | undefined;
  log: (msg: string, err?: unknown) => void;
  env?: NodeJS.ProcessEnv | undefined;
  auth: Authenticator;
}

export async function assembleIdentity(o: IdentityAssemblyOptions): Promise<IdentityParts> {
  const { ds, config } = o;
  const storeId = config.directoryStore;
  const idp = await IdentityPlane.open({
    documents: ds,
    master: o.master,
    publicUrl: o.publicUrl,
    hardwareAaguids: config.hardwareAaguids,
    ttl: {
      accessToken: Math.round(config.accessTokenMs / 1000),
      idToken: Math.round(config.idTokenMs / 1000),
      refreshToken: Math.round(config.refreshTokenMs / 1000),
      sessionIdle: Math.round(config.sessionIdleMs / 1000),
      sessionAbsolute: Math.round(config.sessionAbsoluteMs / 1000),
    },
    tuples: storeId
      ? {
          apply: async (writes, deletes) => {
            await o.policy.write(storeId, { writes, deletes, onDuplicate: "ignore", onMissing: "ignore" });
          },
        }
      : undefined,
    changes: o.audit.changes,
    onProblem: (msg, err) => o.log(msg, err),
  });
  await ensureAccountClient(idp);
  await ensureCliClient(idp);

  const totp = new TotpFactors({ documents: ds, masterKey: o.master, events: idp.events, issuer: new URL(o.publicUrl).hostname });
  const recovery = new RecoveryCodes({ documents: ds, masterKey: o.master, events: idp.events });
  const limits = new SignInLimits();
  const sensitive = o.audit.sensitive;
  const lockout = new Lockout({
    documents: ds,
    maxFailures: config.lockout.maxFailures,
    lockoutMs: config.lockout.durationMs,
    ipLimiter: limits,
    onEvent: async (e) => {
      if (e.type === "failure") return; // the guard records failures itself
      await o.audit.log.append(authenticationEvent({ type: "authentication.lockout", subject: `user:${e.userId}`, success: e.type === "unlock", ip: e.ip, reason: `${e.type}: ${e.reason}` }, sensitive));
    },
    onProblem: (msg, err) => o.log(msg, err),
  });
  const abuse: AbuseControls = {
    limit: (ip, userId) => {
      const d = limits.attempt({ ip, account: userId });
      return d.ok ? 0 : d.retryAfter;
    },
    locked: async (userId) => {
      const s = await lockout.check(userId);
      return s.locked ? (s.until ?? new Date(Date.now() + config.lockout.durationMs)) : undefined;
    },
    failure: async (userId, ip, kind, reason) => {
      const k = kind === "credential" || kind === "malformed" || kind === "unknown_credential" || kind === "replay" || kind === "skew" ? kind : undefined;
      if (userId && k) await lockout.recordFailure(userId, { kind: k, ip, reason });
      else limits.recordFailure(ip);
    },
    success: (userId) => lockout.recordSuccess(userId),
  };
  const guard = new SignInGuard({ audit: { log: o.audit.log, sensitive }, history: o.history, abuse, onProblem: o.log });

  const receivers = new ReceiverRegistry({ documents: ds, sealer: o.master, allowInsecure: new URL(o.publicUrl).protocol === "http:" });
  const transmitter = new Transmitter({
    receivers,
    documents: ds,
    events: idp.events,
    signer: { issuer: idp.issuer, sign: (payload, header) => idp.jwtSigner.sign(payload, header) },
    onDead: (rec, r) => o.log(`security event ${rec.jti} to receiver ${r.id} was given up (${rec.lastError ?? "failed"})`),
    onError: (err) => o.log("shared signals: delivery failed", err),
  });

  const fedConfig = parseFederationConfig(config.federation, o.env ?? process.env);
  const federation =
    fedConfig.providers.length > 0
      ? new Federation({ config: fedConfig, directory: idp.directory, documents: ds, redirectUri: federationRedirectUri(idp.publicUrl), events: idp.events, onProblem: (m, e) => o.log(`federation: ${m}`, e) })
      : undefined;

  // A user deleted leaves no factors behind.
  idp.events.on(async (e) => {
    if (e.type !== "user.deleted") return;
    await totp.remove(e.userId);
    await recovery.remove(e.userId);
    await lockout.unlock(e.userId, { by: "system", reason: "account deleted" });
  });

  return {
    idp,
    totp,
    recovery,
    lockout,
    limits,
    receivers,
    transmitter,
    guard,
    plugins: [(r) => registerSignalRoutes(r, { receivers, transmitter }), (r) => registerIdentityRoutes(r, { idp, lockout, totp, recovery, guard })],
    registerPages(app) {
      registerSignInRoutes(app, { idp, guard, factors: { totp, recovery }, federation });
      // SCIM 2.0 for upstream directories, with an admin API key.
      registerScimRoutes(app, {
        directory: idp.directory,
        publicUrl: `${idp.publicUrl}/scim/v2`,
        authenticate: async (req) => {
          req.principal = await o.auth.authenticate(req, "admin");
        },
      });
      if (federation) {
        registerFederationRoutes(app, federation, { finishSignIn: async (_req, reply, result) => reply.redirect(await federationTicket(idp, result), 303) }, { secureCookies: idp.publicUrl.startsWith("https:") });
      }
      app.get(ssfConfigurationPath(idp.issuer), async () => ssfConfiguration(idp.issuer, `${idp.issuer}/jwks`));
    },
    async start() {
      idp.start();
      transmitter.start();
    },
    async stop() {
      idp.stop();
      await transmitter.stop();
    },
  };
}

/** The account page's own client (public, PKCE): registered once, on first start. */
async function ensureAccountClient(idp: IdentityPlane): Promise<void> {
  const redirect = `${idp.publicUrl}/account/callback`;
  const existing = await idp.clients.get(ACCOUNT_CLIENT_ID);
  const input = { client_id: ACCOUNT_CLIENT_ID, client_name: "Your Tenet account", redirect_uris: [redirect], grant_types: ["authorization_code" as const], token_endpoint_auth_method: "none" as const };
  if (!existing) await idp.clients.create(input).catch(() => undefined);
  else if (existing.redirect_uris[0] !== redirect) await idp.clients.update(ACCOUNT_CLIENT_ID, input);
}

/** Tenet's own command-line tools sign people in with the device authorization grant. */
export const CLI_CLIENT_ID = "tenet-cli";
async function ensureCliClient(idp: IdentityPlane): Promise<void> {
  if (await idp.clients.get(CLI_CLIENT_ID)) return;
  await idp.clients.create({ client_id: CLI_CLIENT_ID, client_name: "Tenet command line", grant_types: [DEVICE_CODE_GRANT, "refresh_token"], token_endpoint_auth_method: "none" }).catch(() => undefined);
}
