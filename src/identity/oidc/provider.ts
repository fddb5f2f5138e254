/**
 * Tenet's OpenID Connect provider: `oidc-provider` (OpenID Certified) configured for zero trust.
 *
 * - Authorization code flow with PKCE (S256) required of every client, confidential or public.
 * - Refresh tokens rotate on every use; a reused one revokes its grant (the library's reuse
 *   detection plus the adapter's compare-and-set consume).
 * - Every token dies with the sign-in session it came from (`expiresWithSession`), so revoking a
 *   session revokes its tokens: introspection answers inactive, refresh fails.
 * - `acr_values` are enforced, not just echoed: a session below every requested level prompts for
 *   login (or answers `login_required` to `prompt=none`), and so does a suspended account.
 * - Clients are registered by administrators (no dynamic registration); their consent is implied
 *   for the scopes they are registered with, like an organisation's own apps in Keycloak or Entra.
 * - Storage is Tenet's documents (adapter.ts); keys are sealed (keys.ts).
 */
import Provider, { type Configuration, interactionPolicy, type KoaContextWithOIDC } from "oidc-provider";
import { ACR_VALUES_SUPPORTED, satisfies } from "../acr.js";
import type { Directory } from "../accounts/directory.js";
import type { DocumentsBackend } from "../../storage/interfaces.js";
import { type AdapterHooks, documentsAdapter } from "./adapter.js";
import type { ClientRegistry } from "./clients.js";
import { deviceConfirmPage, deviceInputPage, deviceSuccessPage, errorPage, logoutPage, loggedOutPage } from "./pages.js";

export interface OidcProviderOptions {
  /** The issuer URL (e.g. https://id.example.com/oidc); the provider is mounted at its path. */
  issuer: string;
  documents: DocumentsBackend;
  directory: Directory;
  clients: ClientRegistry;
  jwks: { keys: Array<Record<string, unknown>> };
  /** Keys that sign the library's cookies (newest first). */
  cookieKeys: string[];
  /** Where a login or consent interaction goes (Tenet's sign-in pages). */
  interactionUrl: (uid: string) => string;
  /** Sessions (Tenet's session list follows them). */
  hooks?: AdapterHooks;
  ttl?: Partial<OidcTtl>;
  /** Trust X-Forwarded-Proto/Host (behind a reverse proxy). */
  proxy?: boolean;
}

export interface OidcTtl {
  accessToken: number;
  idToken: number;
  authorizationCode: number;
  refreshToken: number;
  /** A session ends this long after sign-in, whatever happens (seconds). */
  sessionAbsolute: number;
  /** ... and this long after its last use (seconds). */
  sessionIdle: number;
  clientCredentials: number;
}

export const DEFAULT_TTL: OidcTtl = {
  accessToken: 600,
  idToken: 600,
  authorizationCode: 60,
  refreshToken: 8 * 3600,
  sessionAbsolute: 12 * 3600,
  sessionIdle: 2 * 3600,
  clientCredentials: 600,
};

export const SCOPES = ["openid", "offline_access", "profile", "email", "groups"];

/** The login prompt with Tenet's checks added (the library's checks come first). */
function policy(directory: Directory, absoluteSeconds: number): interactionPolicy.Prompt[] {
  const { Check, base } = interactionPolicy;
  const prompts = base();
  const login = prompts.get("login")!;
  login.checks.add(
    new Check("account_inactive", "the account is not active", "login_required", async (ctx: KoaContextWithOIDC) => {
      const id = ctx.oidc.session?.accountId;
      if (!id) return Check.NO_NEED_TO_PROMPT;
      const user = await directory.getUser(id);
      return user && user.status === "active" ? Check.NO_NEED_TO_PROMPT : Check.REQUEST_PROMPT;
    }),
  );
  login.checks.add(
    new Check("session_too_old", "the session has reached its absolute lifetime", "login_required", (ctx: KoaContextWithOIDC) => {
      const ts = ctx.oidc.session?.loginTs;
      return ts !== undefined && Date.now() / 1000 - ts > absoluteSeconds ? Check.REQUEST_PROMPT : Check.NO_NEED_TO_PROMPT;
    }),
  );
  login.checks.add(
    new Check("acr_values_unmet", "the requested authentication context class is not met", "login_required", (ctx: KoaContextWithOIDC) => {
      const wanted = requestedAcrs(ctx);
      if (wanted.length === 0) return Check.NO_NEED_TO_PROMPT;
      const have = ctx.oidc.session?.acr;
      return wanted.some((w) => satisfies(have, w)) ? Check.NO_NEED_TO_PROMPT : Check.REQUEST_PROMPT;
    }),
  );
  return [...prompts];
}

/** The acr values a request asks for: its `acr_values`, else the client's defaults. */
export function requestedAcrs(ctx: KoaContextWithOIDC): string[] {
  const raw = ctx.oidc.params?.acr_values;
  if (typeof raw === "string" && raw.trim() !== "") return raw.trim().split(/\s+/);
  return (ctx.oidc.client?.defaultAcrValues as string[] | undefined) ?? [];
}

export function createProvider(o: OidcProviderOptions): Provider {
  const ttl = { ...DEFAULT_TTL, ...o.ttl };
  const Adapter = documentsAdapter(o.documents, o.hooks);
  const clients = o.clients;
  // Clients come from the registry (sealed secrets); everything else from the documents.
  class TenetAdapter extends Adapter {
    constructor(private readonly modelName: string) {
      super(modelName);
    }
    override async find(id: string) {
      if (this.modelName === "Client") return clients.find(id) as never;
      return super.find(id);
    }
  }

  const configuration: Configuration = {
    adapter: TenetAdapter,
    jwks: o.jwks as Configuration["jwks"],
    cookies: {
      keys: o.cookieKeys,
      long: { signed: true, httpOnly: true, sameSite: "lax" },
      short: { signed: true, httpOnly: true, sameSite: "lax" },
    },
    pkce: { methods: ["S256"], required: () => true },
    acrValues: ACR_VALUES_SUPPORTED,
    scopes: SCOPES,
    claims: {
      // The library only includes acr, amr and auth_time when a request asks for them; Tenet's
      // tokens always say how the user signed in, so relying parties and the proxy can rely on it.
      acr: null,
      iss: null,
      sid: null,
      openid: ["sub", "acr", "amr", "auth_time"],
      profile: ["name", "given_name", "family_name", "preferred_username", "updated_at"],
      email: ["email", "email_verified"],
      groups: ["groups"],
    },
    clientDefaults: { grant_types: ["authorization_code", "refresh_token"], id_token_signed_response_alg: "ES256", response_types: ["code"], token_endpoint_auth_method: "client_secret_basic" },
    responseTypes: ["code"],
    conformIdTokenClaims: false,
    features: {
      devInteractions: { enabled: false },
      introspection: { enabled: true },
      revocation: { enabled: true },
      clientCredentials: { enabled: true },
      claimsParameter: { enabled: true },
      // RFC 8628: command-line tools (`tenet device enroll`) sign a person in through a browser.
      deviceFlow: {
        enabled: true,
        charset: "base-20",
        mask: "****-****",
        userCodeInputSource: async (ctx, form, _out, err) => {
          ctx.type = "html";
          ctx.body = deviceInputPage(form, err !== undefined);
        },
        userCodeConfirmSource: async (ctx, form, client, _info, userCode) => {
          ctx.type = "html";
          ctx.body = deviceConfirmPage(form, client.clientName ?? client.clientId, userCode);
        },
        successSource: async (ctx) => {
          ctx.type = "html";
          ctx.body = deviceSuccessPage(ctx.oidc.client?.clientName ?? ctx.oidc.client?.clientId ?? "The device");
        },
      },
      backchannelLogout: { enabled: true },
      rpInitiatedLogout: {
        enabled: true,
        logoutSource: async (ctx, form) => {
          ctx.type = "html";
          ctx.body = logoutPage(form);
        },
        postLogoutSuccessSource: async (ctx) => {
          ctx.type = "html";
          ctx.body = loggedOutPage();
        },
      },
    },
    async findAccount(_ctx, sub) {
      const user = await o.directory.getUser(sub);
      if (!user || user.status !== "active") return undefined;
      const groups = await o.directory.groupNames(user);
      return {
        accountId: user.id,
        async claims() {
          return {
            sub: user.id,
            name: user.displayName,
            given_name: user.givenName,
            family_name: user.familyName,
            preferred_username: user.username,
            updated_at: Math.floor(Date.parse(user.updatedAt) / 1000),
            email: user.email,
            email_verified: user.email ? user.emailVerified === true : undefined,
            groups,
          };
        },
      };
    },
    // Consent is implied for a registered client's own scopes (see the header).
    async loadExistingGrant(ctx) {
      const { oidc } = ctx;
      const client = oidc.client!;
      const session = oidc.session!;
      const grantId = (oidc.result?.consent as { grantId?: string } | undefined)?.grantId ?? session.grantIdFor(client.clientId);
      let grant = grantId ? await oidc.provider.Grant.find(grantId) : undefined;
      if (grant && grant.accountId !== session.accountId) grant = undefined;
      grant ??= new oidc.provider.Grant({ clientId: client.clientId, accountId: session.accountId! });
      const requested = [...(oidc.requestParamScopes ?? [])].filter((s) => SCOPES.includes(s)).join(" ");
      if (requested) grant.addOIDCScope(requested);
      const claims = oidc.requestParamClaims ? [...oidc.requestParamClaims] : [];
      if (claims.length > 0) grant.addOIDCClaims(claims);
      await grant.save();
      return grant;
    },
    issueRefreshToken: async (_ctx, client) => client.grantTypeAllowed("refresh_token"),
    rotateRefreshToken: true,
    expiresWithSession: () => true,
    interactions: { url: (_ctx, interaction) => o.interactionUrl(interaction.uid), policy: policy(o.directory, ttl.sessionAbsolute) },
    ttl: {
      AccessToken: ttl.accessToken,
      IdToken: ttl.idToken,
      AuthorizationCode: ttl.authorizationCode,
      RefreshToken: ttl.refreshToken,
      ClientCredentials: ttl.clientCredentials,
      Interaction: 600,
      Grant: ttl.sessionAbsolute,
      // Idle timeout, never past the absolute one; re-saved (slid) on every authorization request.
      Session: (_ctx, session) => {
        const left = session.loginTs ? Math.max(1, ttl.sessionAbsolute - (Math.floor(Date.now() / 1000) - session.loginTs)) : ttl.sessionIdle;
        return Math.min(ttl.sessionIdle, left);
      },
    },
    renderError: async (ctx, out) => {
      ctx.type = "html";
      ctx.body = errorPage(out as { error?: string; error_description?: string });
    },
    extraParams: [],
    enabledJWA: {
      idTokenSigningAlgValues: ["ES256", "RS256"],
      userinfoSigningAlgValues: ["ES256", "RS256"],
      introspectionSigningAlgValues: ["ES256", "RS256"],
      authorizationSigningAlgValues: ["ES256", "RS256"],
    },
    discovery: { service_documentation: "https://github.com/tenet/tenet#identity" },
  };
  const provider = new Provider(o.issuer, configuration);
  provider.proxy = o.proxy === true;
  return provider;
}
