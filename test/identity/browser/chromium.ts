/**
 * A real browser for the sign-in pages' end-to-end tests: Debian's Chromium driven by
 * playwright-core, with a DevTools virtual authenticator standing in for the platform's passkey
 * (CDP `WebAuthn` domain: a CTAP2 "internal" authenticator with resident keys and user
 * verification that always succeeds, so navigator.credentials runs its real code path without a
 * human).
 *
 * Chromium is an operating-system package, not an npm one: when it is missing the suite is
 * skipped with a message, unless TENET_REQUIRE_CHROMIUM is set (CI), where a missing browser is a
 * failure rather than a silent pass.
 */
import { existsSync } from "node:fs";
import { chromium, type Browser, type BrowserContext, type CDPSession, type Page } from "playwright-core";

export const CHROMIUM_PATH = process.env.TENET_CHROMIUM_PATH ?? "/usr/bin/chromium";

const ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run"];

/**
 * The `skip` option for the suite: false when Chromium is there; a reason to skip when it is not.
 * Throws when it is not there and TENET_REQUIRE_CHROMIUM says it must be.
 */
export function chromiumSkip(): string | false {
  if (existsSync(CHROMIUM_PATH)) return false;
  const why = `Chromium not found at ${CHROMIUM_PATH} (install the Debian package "chromium", or set TENET_CHROMIUM_PATH)`;
  if (process.env.TENET_REQUIRE_CHROMIUM) throw new Error(`${why}; TENET_REQUIRE_CHROMIUM is set, so the browser tests cannot be skipped`);
  return `${why}: skipping the browser tests`;
}

export async function launchChromium(): Promise<Browser> {
  return chromium.launch({ executablePath: CHROMIUM_PATH, args: ARGS, timeout: 30_000 });
}

export interface PasskeyPage {
  context: BrowserContext;
  page: Page;
  cdp: CDPSession;
  /** The current virtual authenticator (undefined after `removeAuthenticator`). */
  authenticatorId: string | undefined;
  /** Console messages and uncaught page errors, in order, for asserting there were none. */
  console: string[];
  pageErrors: string[];
  addAuthenticator(): Promise<string>;
  removeAuthenticator(): Promise<void>;
  /** The credentials the virtual authenticator holds (CDP `WebAuthn.getCredentials`). */
  credentials(): Promise<Array<{ credentialId: string; isResidentCredential: boolean; rpId?: string; userHandle?: string; signCount: number }>>;
}

/** A fresh context and page, with the WebAuthn virtual environment on and one authenticator. */
export async function newPasskeyPage(browser: Browser, opts: { timeoutMs?: number } = {}): Promise<PasskeyPage> {
  const context = await browser.newContext();
  context.setDefaultTimeout(opts.timeoutMs ?? 10_000);
  context.setDefaultNavigationTimeout(opts.timeoutMs ?? 10_000);
  const page = await context.newPage();
  const cdp = await context.newCDPSession(page);
  const consoleLines: string[] = [];
  const pageErrors: string[] = [];
  page.on("console", (m) => consoleLines.push(`${m.type()}: ${m.text()}`));
  page.on("pageerror", (e) => pageErrors.push(e.message));
  await cdp.send("WebAuthn.enable", { enableUI: false });
  const p: PasskeyPage = {
    context,
    page,
    cdp,
    authenticatorId: undefined,
    console: consoleLines,
    pageErrors,
    async addAuthenticator() {
      const { authenticatorId } = await cdp.send("WebAuthn.addVirtualAuthenticator", {
        options: { protocol: "ctap2", transport: "internal", hasResidentKey: true, hasUserVerification: true, isUserVerified: true, automaticPresenceSimulation: true },
      });
      p.authenticatorId = authenticatorId;
      return authenticatorId;
    },
    async removeAuthenticator() {
      if (!p.authenticatorId) return;
      await cdp.send("WebAuthn.removeVirtualAuthenticator", { authenticatorId: p.authenticatorId });
      p.authenticatorId = undefined;
    },
    async credentials() {
      if (!p.authenticatorId) return [];
      const { credentials } = await cdp.send("WebAuthn.getCredentials", { authenticatorId: p.authenticatorId });
      return credentials;
    },
  };
  await p.addAuthenticator();
  return p;
}

export async function closeChromium(browser: Browser | undefined): Promise<void> {
  if (browser?.isConnected()) await browser.close();
}
