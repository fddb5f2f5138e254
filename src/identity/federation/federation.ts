/**
 * "Sign in with" an upstream OpenID provider (Okta, Auth0, Entra ID, Keycloak, Google): the
 * authorization code flow with PKCE, `state` and `nonce` (OIDC Core §3.1; RFC 9700 §2.1.1), as
 * the relying party of each configured provider.
 *
 *   begin(provider, { returnTo })   → the upstream's authorization URL and a `stateId` that the
 *                                     sign-in page keeps in a cookie (pending.ts);
 *   complete(provider, stateId, callback URL)
 *                                   → the Tenet account: by its link to the upstream `sub`,
 *                                     else by a verified e-mail address (then linked), else
 *                                     created when the provider provisions (`auto`); its mapped
 *                                     groups follow the upstream's claims; and the factors for
 *                                     `assurance()` (src/identity/acr.ts).
 *
 * The upstream's `acr`/`amr` are reported as factors only for a provider configured with
 * `trustAssurance`: otherwise whoever runs that IdP could claim any level for their users.
 */
import { TenetError } from "../../errors.js";
import type { DocumentsBackend } from "../../storage/interfaces.js";
import type { Directory } from "../accounts/directory.js";
import type { User } from "../accounts/types.js";
import { ACR_VALUES_SUPPORTED, type Factors } from "../acr.js";
import type { IdentityEvents } from "../events.js";
import * as oidc from "openid-client";
import { amr as amrOf, type Claims, email, hasControl, mappedGroups, subject, text } from "./claims.js";
import type { FederationConfig, FederationProvider } from "./config.js";
import { FederationLinks, type LinkedVia } from "./links.js";
import { PendingLogins } from "./pending.js";
import { type ProblemReporter, Upstream } from "./upstream.js";

export interface FederationOptions {
  config: FederationConfig;
  directory: Directory;
  documents: DocumentsBackend;
  /** The absolute callback URL registered at the upstream for this provider (no query). */
  redirectUri: (providerId: string) => string;
  /** When given, the links of a deleted account are removed. */
  events?: IdentityEvents | undefined;
  /** Configuration and upstream problems worth an operator's attention (never secrets). */
  onProblem?: ProblemReporter | undefined;
  now?: (() => number) | undefined;
}

export interface BeginOptions {
  /** Where the sign-in page sends the browser afterwards: a path on Tenet (default `/`). */
  returnTo?: string | undefined;
  /** OIDC Core §3.1.2.1 `max_age` in seconds: the upstream must have authenticated this recently. */
  maxAge?: number | undefined;
  /** OIDC Core §3.1.2.1 `login_hint`, e.g. the address the person typed. */
  loginHint?: string | undefined;
}

export interface FederatedSignIn {
  userId: string;
  providerId: string;
  /** How the account was found: an existing link, a verified e-mail address (now linked), or created. */
  account: "linked" | "email" | "provisioned";
  returnTo: string;
  /** For `assurance()`: the upstream's acr/amr are present only when the provider is trusted for them. */
  factors: { upstream: NonNullable<Factors["upstream"]> };
  /** What the upstream said, trusted or not (for the audit log). */
  upstream: { issuer: string; subject: string; acr?: string | undefined; amr?: string[] | undefined; authTime?: number | undefined };
  groupsAdded: string[];
  groupsRemoved: string[];
}

const SIGN_IN_EXPIRED = "sign-in expired; start again";
const MAX_RETURN_TO = 2048;
const SWEEP_EVERY_MS = 5 * 60_000;

export class Federation {
  private readonly byId = new Map<string, Upstream>();
  private readonly pending: PendingLogins;
  readonly links: FederationLinks;
  private readonly now: () => number;
  private readonly report: ProblemReporter;
  private lastSweep: number;

  constructor(private readonly opts: FederationOptions) {
    this.now = opts.now ?? Date.now;
    this.report = opts.onProblem ?? (() => undefined);
    for (const p of opts.config.providers) this.byId.set(p.id, new Upstream(p, this.now, this.report));
    this.pending = new PendingLogins(opts.documents, this.now);
    this.links = new FederationLinks(opts.documents, this.now);
    this.lastSweep = this.now();
    opts.events?.on(async (e) => {
      if (e.type === "user.deleted") await this.links.unlinkAll(e.userId);
    });
  }

  /** The providers to offer, in configuration order (for the sign-in page's buttons). */
  providers(): Array<{ id: string; name: string }> {
    return [...this.byId.values()].map((u) => ({ id: u.provider.id, name: u.provider.name }));
  }

  /** Starts a sign-in: redirect the browser to `url` and keep `stateId` in a cookie until `expiresAt`. */
  async begin(providerId: string, opts: BeginOptions = {}): Promise<{ url: string; stateId: string; expiresAt: number }> {
    const up = this.upstream(providerId);
    const p = up.provider;
    const returnTo = checkReturnTo(opts.returnTo);
    const maxAge = opts.maxAge;
    if (maxAge !== undefined && (!Number.isSafeInteger(maxAge) || maxAge < 0)) throw new TenetError("validation_error", "maxAge must be a whole number of seconds");
    const loginHint = opts.loginHint;
    if (loginHint !== undefined && (typeof loginHint !== "string" || loginHint.length === 0 || loginHint.length > 256 || hasControl(loginHint))) {
      throw new TenetError("validation_error", "loginHint must be 1–256 printable characters");
    }
    // Discovery first: when the upstream is down, nothing is stored.
    await up.configuration();
    const codeVerifier = oidc.randomPKCECodeVerifier();
    const state = oidc.randomState();
    const nonce = oidc.randomNonce();
    const { stateId, expiresAt } = await this.pending.put({ providerId: p.id, state, nonce, codeVerifier, returnTo, maxAge });
    const url = await up.authorizationUrl({
      redirect_uri: this.redirectUri(p.id),
      scope: p.scopes.join(" "),
      code_challenge: await oidc.calculatePKCECodeChallenge(codeVerifier),
      code_challenge_method: "S256",
      state,
      nonce,
      ...(maxAge !== undefined ? { max_age: String(maxAge) } : {}),
      ...(loginHint !== undefined ? { login_hint: loginHint } : {}),
    });
    this.maybeSweep();
    return { url: url.href, stateId, expiresAt };
  }

  /**
   * Finishes a sign-in at the callback: `currentUrl` is the request's URL (only its query is
   * used; the redirect URI is this provider's own, so proxies cannot make them differ).
   */
  async complete(providerId: string, stateId: string, currentUrl: URL): Promise<FederatedSignIn> {
    const up = this.upstream(providerId);
    const p = up.provider;
    if (!(currentUrl instanceof URL)) throw new TenetError("validation_error", "the callback URL is required");
    // Taken (deleted) before anything else: a callback is good for one attempt, whatever its outcome.
    const pending = await this.pending.take(stateId);
    if (!pending || pending.providerId !== p.id) throw new TenetError("validation_error", SIGN_IN_EXPIRED);
    const callback = new URL(this.redirectUri(p.id));
    for (const [k, v] of currentUrl.searchParams) callback.searchParams.append(k, v);
    const claims = await up.exchange(callback, pending);
    const sub = subject(claims);
    if (sub === undefined) throw new TenetError("unauthenticated", `${p.name} sent an unusable subject identifier`);

    const { user, via } = await this.account(p, sub, claims);
    const groups = await this.syncGroups(p, user, claims);
    const acr = text(claims, "acr", 512);
    const amr = amrOf(claims);
    const authTime = typeof claims.auth_time === "number" && Number.isFinite(claims.auth_time) ? claims.auth_time : undefined;
    return {
      userId: user.id,
      providerId: p.id,
      account: via,
      returnTo: pending.returnTo,
      factors: { upstream: p.trustAssurance ? { acr: tenetAcr(p, acr), amr, trusted: true } : { trusted: false } },
      upstream: { issuer: p.issuer, subject: sub, acr, amr, authTime },
      groupsAdded: groups.added,
      groupsRemoved: groups.removed,
    };
  }

  /** Links an upstream identity to an account by hand (an administrator's decision). */
  async link(userId: string, providerId: string, upstreamSubject: string): Promise<void> {
    const p = this.upstream(providerId).provider;
    if (subject({ sub: upstreamSubject }) === undefined) throw new TenetError("validation_error", "subject must be 1–255 printable ASCII characters");
    const existing = await this.links.get(p.id, upstreamSubject);
    if (existing && existing.userId !== userId && (await this.liveUser(existing))) {
      throw new TenetError("conflict", `that ${p.name} identity is linked to another account`);
    }
    const user = await this.opts.directory.requireUser(userId);
    await this.links.link(p.id, upstreamSubject, user, "admin");
  }

  /** Deletes sign-ins nobody came back to finish; run now and then (begin does, every 5 minutes). */
  async sweepExpired(): Promise<number> {
    this.lastSweep = this.now();
    return this.pending.sweep();
  }

  // ---- helpers ----

  private upstream(providerId: string): Upstream {
    const up = typeof providerId === "string" ? this.byId.get(providerId) : undefined;
    if (!up) throw new TenetError("not_found", "there is no sign-in provider with that id");
    return up;
  }

  private redirectUri(providerId: string): string {
    const uri = this.opts.redirectUri(providerId);
    const u = new URL(uri);
    // The code exchange sends the callback URL without its query as redirect_uri (RFC 6749 §4.1.3).
    if (u.search !== "" || u.hash !== "") throw new TenetError("internal_error", "a federation redirect URI must not have a query or fragment");
    return u.href;
  }

  private maybeSweep(): void {
    if (this.now() - this.lastSweep < SWEEP_EVERY_MS) return;
    this.sweepExpired().catch((err: unknown) => this.report("federation: removing expired sign-ins failed", err));
  }

  /** The account a link points at, if it is still the account that was linked. */
  private async liveUser(link: { userId: string; userCreatedAt: string }): Promise<User | undefined> {
    const u = await this.opts.directory.getUser(link.userId);
    return u && u.createdAt === link.userCreatedAt ? u : undefined;
  }

  private async account(p: FederationProvider, sub: string, claims: Claims): Promise<{ user: User; via: FederatedSignIn["account"] }> {
    const dir = this.opts.directory;
    const link = await this.links.get(p.id, sub);
    if (link) {
      const u = await this.liveUser(link);
      if (u) return { user: await usable(dir, u), via: "linked" };
      await this.links.dropStale(link);
    }
    const mail = email(claims, p);
    if (mail.address !== undefined && mail.verified) {
      const u = await dir.findByEmail(mail.address);
      if (u) {
        refuseSuspended(u);
        await this.links.link(p.id, sub, u, "email");
        return { user: await usable(dir, u), via: "email" };
      }
    }
    if (p.provisioning !== "auto") throw new TenetError("forbidden", "no Tenet account for this identity");
    return { user: await this.provision(p, sub, claims, mail), via: "provisioned" };
  }

  private async provision(p: FederationProvider, sub: string, claims: Claims, mail: { address: string | undefined; verified: boolean }): Promise<User> {
    // An unverified address is neither stored nor used as a name: it would squat the directory's
    // unique e-mail (and username) of whoever really owns it.
    const address = mail.verified ? mail.address : undefined;
    const username = text(claims, p.usernameClaim, 128) ?? address;
    if (username === undefined) throw new TenetError("forbidden", `${p.name} sent no ${p.usernameClaim} claim (nor a verified e-mail address) to name a new Tenet account`);
    let user: User;
    try {
      user = await this.opts.directory.createUser({
        username,
        email: address,
        emailVerified: address !== undefined ? true : undefined,
        displayName: text(claims, "name"),
        givenName: text(claims, "given_name"),
        familyName: text(claims, "family_name"),
        status: "active",
      });
    } catch (err) {
      if (err instanceof TenetError && err.code === "conflict") {
        // A concurrent first sign-in of the same identity may have created and linked it.
        const link = await this.links.get(p.id, sub);
        const u = link ? await this.liveUser(link) : undefined;
        if (u) return usable(this.opts.directory, u);
        throw new TenetError("conflict", `a Tenet account with the username '${username}' or this e-mail address already exists; an administrator can link it to this identity`);
      }
      throw err;
    }
    await this.links.link(p.id, sub, user, "provisioned" satisfies LinkedVia);
    return user;
  }

  /**
   * Joins the groups the claims map to and leaves the mapped groups they no longer map to; groups
   * the mapping does not mention are left alone (an administrator's or SCIM's to manage).
   */
  private async syncGroups(p: FederationProvider, user: User, claims: Claims): Promise<{ added: string[]; removed: string[] }> {
    const dir = this.opts.directory;
    const { wanted, managed } = mappedGroups(claims, p);
    const added: string[] = [];
    const removed: string[] = [];
    for (const g of managed) {
      const group = await dir.getGroup(g);
      if (!group) {
        this.report(`federation: the group mapping of provider ${p.id} names group ${g}, which does not exist`);
        continue;
      }
      const member = group.members.includes(user.id);
      if (wanted.has(g) && !member) {
        await dir.addMember(g, user.id);
        added.push(g);
      } else if (!wanted.has(g) && member) {
        await dir.removeMember(g, user.id);
        removed.push(g);
      }
    }
    return { added, removed };
  }
}

/**
 * A trusted upstream's acr as Tenet's: through the provider's `acrMap` (own keys only: the value
 * is the upstream's), else as sent when it is one of Tenet's URIs; anything else counts for nothing.
 */
function tenetAcr(p: FederationProvider, acr: string | undefined): string | undefined {
  if (acr === undefined) return undefined;
  if (Object.hasOwn(p.acrMap, acr)) return p.acrMap[acr];
  return (ACR_VALUES_SUPPORTED as readonly string[]).includes(acr) ? acr : undefined;
}

function refuseSuspended(u: User): void {
  if (u.status === "suspended") throw new TenetError("forbidden", "this Tenet account is suspended");
}

/** Refuses a suspended account; an invited one becomes active (the upstream proved the person). */
async function usable(dir: Directory, u: User): Promise<User> {
  refuseSuspended(u);
  return u.status === "invited" ? dir.activate(u.id) : u;
}

/** A path on this site only (RFC 9700 §4.11: no open redirector): `/x`, not `//host` or `/\host`. */
function checkReturnTo(v: string | undefined): string {
  if (v === undefined) return "/";
  if (typeof v !== "string" || v.length > MAX_RETURN_TO || !v.startsWith("/") || v.startsWith("//") || v.includes("\\") || hasControl(v)) {
    throw new TenetError("validation_error", "returnTo must be a path on this site, such as /apps");
  }
  return v;
}
