/**
 * Tenet's parts put together over one datastore: the relationship engine, API authentication,
 * access policies and the decision point with its risk engine, just-in-time access (service,
 * outbox, webhook delivery) and network zones, and the HTTP server with every route. `tenet
 * serve` and the API tests both start from here, so what is tested is what runs.
 *
 * The caller owns the datastore (opens and closes it) and the listening socket; `close()` stops
 * everything assembled here: the server first (in-flight requests finish), then the background
 * work (grant refresh and sweep, webhook delivery, change-log sync).
 */
import type { FastifyInstance } from "fastify";
import { registerAccessRoutes } from "../api/access/routes.js";
import { ApiAuthenticator } from "../api/auth/authenticator.js";
import type { JwtVerifier } from "../api/auth/jwt.js";
import { registerAuthzenRoutes } from "../api/authzen/routes.js";
import { registerJitRoutes } from "../api/jit/routes.js";
import { createMetrics, registerMetrics } from "../api/metrics/metrics.js";
import { buildServer } from "../api/server.js";
import { registerAuditRoutes } from "../api/audit/routes.js";
import { createAuditExporter } from "../audit/export/exporter.js";
import { exportMetrics } from "../audit/export/metrics.js";
import { auditMetrics } from "../audit/metrics.js";
import { RelationshipQueryRecorder } from "../audit/query-recorder.js";
import { type AuditPlane, openAuditPlane } from "../audit/setup.js";
import type { AccessConfig } from "../config/access-config.js";
import { EngineRiskAssessor } from "../policy/access/adapters/risk-assessor.js";
import { ServiceJitAccess } from "../policy/access/adapters/jit-access.js";
import { compileZones } from "../policy/access/adapters/zones.js";
import { AccessDecisionPoint } from "../policy/access/decision-point.js";
import { AccessPolicyStore } from "../policy/access/policy-store.js";
import { Outbox } from "../policy/jit/outbox.js";
import { JitService } from "../policy/jit/service.js";
import { WebhookWorker } from "../policy/jit/webhook.js";
import { defaultSignals } from "../policy/risk/default-signals.js";
import { RiskEngine } from "../policy/risk/engine.js";
import { DocumentHistoryStore } from "../policy/risk/history-documents.js";
import { loadRiskResources, resourceProblems } from "../policy/risk/resources.js";
import { PolicyService } from "../policy/service.js";
import type { Datastore } from "../storage/interfaces.js";
import { loadMasterKey } from "../crypto/master-key.js";
import { DeviceRegistry } from "../identity/devices/registry.js";
import { registerDeviceRoutes } from "../api/devices/routes.js";
import type { LaneRequest } from "../api/lane.js";
import { assembleIdentity, type IdentityParts } from "./identity.js";
import { assembleProxy } from "./proxy.js";
import { ProxyRouteCatalog } from "../enforcement/route-store.js";
import { registerProxyRouteRoutes } from "../api/proxy-routes/routes.js";

export interface AuthzenOptions {
  /** Read on every request (tests set it after start). */
  defaultStoreId?: string | undefined;
  baseUrl: () => string;
}

export interface AssembleOptions {
  ds: Datastore;
  access: AccessConfig;
  /** The data directory (the master key file lives there unless TENET_MASTER_KEY is set). */
  dataDir: string;
  env?: Record<string, string | undefined>;
  /** Trusted OIDC issuers for bearer JWTs; null = API keys only. */
  jwt?: JwtVerifier | null;
  /** How long the authenticator caches a key (ms). */
  authCacheMs?: number;
  logLevel?: string;
  bodyLimit?: number;
  requestTimeoutMs?: number;
  /** Re-read the change log this often (ms), for replicas; unset = no sync (a single process). */
  syncIntervalMs?: number;
  authzen: AuthzenOptions;
  /**
   * false: no risk engine, so a decision's risk is 0 unless the request brings its own. For tests
   * that pin risk; a server always assesses (default true).
   */
  riskEngine?: boolean;
  /**
   * Tenet's public URL (scheme, host, port): turns on the identity provider (issuer
   * `<publicUrl>/oidc`), its pages and devices. Unset: no identity plane (API-only tests).
   */
  publicUrl?: string | undefined;
  /** Certificate and key for HTTPS (api/tls.ts), passed to the server; unset = plain HTTP. */
  tls?: import("node:https").ServerOptions | undefined;
  /** Re-read the proxy routes made by API this often (ms; default 5000): changes on other replicas. */
  routeReloadMs?: number;
}

export interface Assembled {
  app: FastifyInstance;
  policy: PolicyService;
  auth: ApiAuthenticator;
  policies: AccessPolicyStore;
  pdp: AccessDecisionPoint;
  jit: JitService;
  outbox: Outbox;
  audit: AuditPlane;
  /** The AuthZEN options object the routes read (with the decision point). */
  authzen: AuthzenOptions & { access: AccessDecisionPoint; queries: RelationshipQueryRecorder | undefined };
  /** The identity plane, when `publicUrl` was given. */
  identity: IdentityParts | undefined;
  devices: DeviceRegistry | undefined;
  /** The proxy's routes (file and API), when the identity plane is on. */
  routes: ProxyRouteCatalog | undefined;
  /** Risk data that did not load (lists, feeds, the geolocation database): say so at start. */
  warnings: string[];
  close(): Promise<void>;
}

export async function assemble(opts: AssembleOptions): Promise<Assembled> {
  const { ds, access } = opts;
  // Runtime problems of background work are logged once the server (and its logger) exists.
  let log: (msg: string, err?: unknown) => void = () => undefined;
  const warnings: string[] = [];

  // The audit log first: every decision and change below is recorded through it.
  let auditFailures = 0;
  const audit = await openAuditPlane(ds, {
    dataDir: opts.dataDir,
    env: opts.env ?? process.env,
    origin: access.audit.origin,
    checkpointEvery: access.audit.checkpointEvery,
    checkpointIntervalMs: access.audit.checkpointIntervalMs,
    onFailure: (err) => {
      auditFailures++;
      log("the audit log could not store events: decisions fail closed until it can", err);
    },
  });
  warnings.push(...audit.warnings, ...access.audit.export.warnings);
  const policy = new PolicyService(ds, { changes: audit.changes });
  const auth = new ApiAuthenticator(ds, opts.jwt ?? null, opts.authCacheMs ?? 5000);
  const policies = new AccessPolicyStore(ds, audit.changes);

  let risk: EngineRiskAssessor | undefined;
  let history: DocumentHistoryStore | undefined;
  if (opts.riskEngine !== false) {
    const resources = loadRiskResources(access.risk, { baseDir: access.baseDir });
    for (const p of resourceProblems(resources)) warnings.push(`risk data: ${p.file}${p.line !== undefined ? ` line ${p.line}` : ""}: ${p.problem}`);
    const engine = new RiskEngine(access.risk, defaultSignals(access.risk, resources));
    history = new DocumentHistoryStore(ds, access.risk);
    risk = new EngineRiskAssessor(engine, history, {
      onError: (err, subject) => log(`sign-in history of ${subject} unavailable; assessing without it`, err),
    });
  }

  const outbox = new Outbox(ds, { endpoints: access.jit.webhooks });
  const jit = new JitService({
    documents: ds,
    policy,
    outbox,
    maxDuration: access.jit.maxDuration,
    breakGlassMaxDuration: access.jit.breakGlassMaxDuration,
    pendingTtl: access.jit.pendingTtl,
  });
  const jitAccess = new ServiceJitAccess(jit, policy, { security: access.notify.security, onProblem: (m) => log(m) });
  const webhooks = new WebhookWorker(outbox, {
    endpoints: access.jit.webhooks,
    onDead: (entry, d) => log(`webhook delivery of event ${entry.id} to ${d.url} gave up after ${d.attempts} attempts (${d.lastError ?? "failed"})`),
    onError: (err) => log("webhook delivery failed", err),
  });

  // The identity plane: the OpenID provider, sign-in pages, devices and shared signals.
  let identity: IdentityParts | undefined;
  let devices: DeviceRegistry | undefined;
  let routes: ProxyRouteCatalog | undefined;
  const identityPlugins: Array<(r: import("../api/route.js").Router) => void> = [];
  if (opts.publicUrl !== undefined) {
    const master = await loadMasterKey({ dataDir: opts.dataDir, env: opts.env ?? process.env });
    identity = await assembleIdentity({ ds, master: master.key, config: access.identity, publicUrl: opts.publicUrl, audit, policy, history, log: (m, e) => log(m, e), env: opts.env, auth });
    const idp = identity.idp;
    devices = new DeviceRegistry({ documents: ds, events: idp.events, policy: access.identity.devices, users: idp.directory });
    const registry = devices;
    idp.events.on((e) => (e.type === "user.deleted" ? registry.removeAllOf(e.userId, "system:user.deleted").then(() => undefined) : undefined));
    // A person calling Tenet's API with an access token of Tenet's own provider.
    const userOf = async (req: LaneRequest) => {
      const m = /^Bearer\s+(\S+)$/i.exec(String(req.headers.authorization ?? ""));
      if (!m || m[1]!.startsWith("tenet_")) return undefined;
      return (await idp.accountOfAccessToken(m[1]!))?.userId;
    };
    // The proxy's routes: the file's, and those made by API (stored, shared by replicas).
    const catalog = new ProxyRouteCatalog({ documents: ds, fileRoutes: access.proxy.routes, changes: audit.changes, reservedHosts: [new URL(idp.publicUrl).host], onProblem: (m, e) => log(m, e) });
    await catalog.reload();
    routes = catalog;
    identityPlugins.push(...identity.plugins, (r) => registerDeviceRoutes(r, { devices: registry, auth, userOf }), (r) => registerProxyRouteRoutes(r, { catalog }));
  }
  // reuseMs: the proxy's decision cache (identical questions within 1 s; each still audited).
  const pdp = new AccessDecisionPoint({ policy, policies, risk, jit: jitAccess, zonesOf: compileZones(access.zones), audit: audit.decisions, reuseMs: 1000 });
  const exporter = createAuditExporter(access.audit.export, {
    source: audit.log,
    documents: ds,
    log: (level, msg, err) => log(`audit export (${level}): ${msg}`, err),
  });
  const metrics = createMetrics(policy);
  exportMetrics(exporter, metrics.registry);
  auditMetrics(audit.log, () => auditFailures, metrics.registry);
  const queries = access.audit.relationshipQueries ? new RelationshipQueryRecorder(audit.log, audit.sensitive) : undefined;
  // The caller's object itself: the routes read it on every request, so later changes count.
  const authzen = Object.assign(opts.authzen, { access: pdp, queries });
  // The identity-aware proxy (issue 8), with the identity plane: routes may come by API at any time.
  const enforcement = identity && routes ? await assembleProxy({ identity, routes, pdp, master: (await loadMasterKey({ dataDir: opts.dataDir, env: opts.env ?? process.env })).key, defaultStoreId: () => opts.authzen.defaultStoreId, extAuthzTrustedPeers: access.proxy.extAuthzTrustedPeers, log: (m, e) => log(m, e) }) : undefined;
  const proxy = enforcement?.proxy;
  const extAuthz = enforcement?.extAuthz;
  const app = await buildServer({
    policy,
    auth,
    queries,
    ...(identity
      ? {
          raw: (req: import("node:http").IncomingMessage, res: import("node:http").ServerResponse) => {
            // Envoy's ext_authz checks (any Host: Envoy sends the original authority).
            if (extAuthz?.claims(req)) {
              extAuthz.handle(req, res).catch((err: unknown) => {
                log("ext_authz: request failed", err);
                // Fail closed: Envoy denies on anything but 200.
                if (!res.headersSent) res.writeHead(503).end();
                else res.destroy();
              });
              return true;
            }
            // Hosts of proxied applications go to the proxy; Tenet's own host to the provider and API.
            if (proxy?.claims(req)) {
              proxy.handle(req, res).catch((err: unknown) => {
                log("proxy: request failed", err);
                if (!res.headersSent) res.writeHead(502).end();
                else res.destroy();
              });
              return true;
            }
            return identity.idp.handle(req, res);
          },
          upgrade: (req: import("node:http").IncomingMessage, socket: import("node:stream").Duplex, head: Buffer) => {
            if (!proxy?.claims(req)) return false;
            proxy.handleUpgrade(req, socket, head).catch((err: unknown) => {
              log("proxy: websocket upgrade failed", err);
              socket.destroy();
            });
            return true;
          },
        }
      : {}),
    ...(opts.logLevel !== undefined ? { logLevel: opts.logLevel } : {}),
    ...(opts.bodyLimit !== undefined ? { bodyLimit: opts.bodyLimit } : {}),
    ...(opts.requestTimeoutMs !== undefined ? { requestTimeoutMs: opts.requestTimeoutMs } : {}),
    ...(opts.tls !== undefined ? { tls: opts.tls } : {}),
    plugins: [
      (r) => registerAuthzenRoutes(r, policy, authzen),
      (r) => registerAccessRoutes(r, { policy, policies, pdp }),
      (r) => registerJitRoutes(r, jit),
      (r) => registerAuditRoutes(r, { log: audit.log, publicKey: audit.publicKey }),
      ...identityPlugins,
      registerMetrics(metrics),
    ],
  });
  identity?.registerPages(app);
  log = (msg, err) => (err === undefined ? app.log.warn(msg) : app.log.warn({ err }, msg));

  // Grants approved on other replicas arrive with the refresh; expired ones are swept.
  jit.start({ onError: (err) => log("just-in-time access housekeeping failed", err) });
  // Without endpoints every event is only recorded: there is nothing to deliver.
  if (access.jit.webhooks.length > 0) webhooks.start();
  await exporter.start();
  await identity?.start();
  devices?.start({ sweepMs: 60_000, onError: (err) => log("device posture sweep failed", err) });
  routes?.start({ intervalMs: opts.routeReloadMs ?? 5000, onError: (err) => log("proxy routes: reload failed", err) });
  // Retention: prune hourly (and once at start) what is older than the configured age.
  const retentionMs = access.audit.retentionMs;
  let pruneTimer: NodeJS.Timeout | undefined;
  if (retentionMs !== undefined) {
    let pruning = false;
    const prune = () => {
      if (pruning) return;
      pruning = true;
      // Never past what every export sink has delivered: receivers must not miss entries.
      const low = exporter.lowWatermark();
      audit.log
        .prune(new Date(Date.now() - retentionMs), low)
        .catch((err) => log("audit retention: pruning failed", err))
        .finally(() => (pruning = false));
    };
    prune();
    pruneTimer = setInterval(prune, 3600_000);
    pruneTimer.unref();
  }
  // Background work starts last, once nothing above can fail and leave it running.
  const stopSync = opts.syncIntervalMs === undefined ? async () => undefined : await policy.startSync({ pollMs: opts.syncIntervalMs });

  let closed: Promise<void> | undefined;
  const close = () =>
    (closed ??= (async () => {
      await app.close();
      routes?.stop();
      await proxy?.close();
      await identity?.stop();
      devices?.stop();
      if (pruneTimer) clearInterval(pruneTimer);
      jit.stop();
      await webhooks.stop();
      await stopSync();
      // After the server: the last decisions are recorded; then the exporter sends what it can.
      await audit.close();
      await exporter.stop();
    })());
  return { app, policy, auth, policies, pdp, jit, outbox, audit, authzen, identity, devices, routes, warnings, close };
}
