/** The sign-in, step-up, invitation and account pages (HTML only; the routes decide what to show). */
import { Html, html, page } from "../../identity/web/html.js";
import type { Passkey } from "../../identity/passkeys/passkeys.js";
import type { SessionInfo } from "../../identity/sessions/sessions.js";

export interface SignInView {
  base: string;
  csrf: string;
  clientName: string;
  /** Step-up: the account is known, only a stronger factor is missing. */
  stepUp?: { username: string; why: string; totp: boolean; hardwareOnly: boolean } | undefined;
  federation: Array<{ id: string; name: string }>;
  error?: string | undefined;
}

export function signInPage(v: SignInView): string {
  const alert = v.error ? html`<p class="error" role="alert">${v.error}</p>` : html``;
  if (v.stepUp) {
    return page({
      title: "Confirm it's you",
      script: true,
      data: { base: v.base, csrf: v.csrf },
      body: html`<p>${v.clientName} needs a stronger sign-in for <strong>${v.stepUp.username}</strong>: ${v.stepUp.why}.</p>
${alert}
<div class="actions">
<button type="button" id="passkey-signin" class="primary">${v.stepUp.hardwareOnly ? "Use your security key" : "Use your passkey"}</button>
</div>
<p id="status" class="muted" role="status" aria-live="polite"></p>
${v.stepUp.totp ? html`<details><summary>Use your authenticator app instead</summary>
<form method="post" action="${v.base}/totp">
<input type="hidden" name="csrf" value="${v.csrf}">
<label for="code">6-digit code</label>
<input id="code" name="code" inputmode="numeric" autocomplete="one-time-code" pattern="[0-9]{6}" maxlength="6" required>
<button type="submit">Verify</button>
</form></details>` : html``}
<p><a href="${v.base}/abort">Cancel</a></p>`,
    });
  }
  return page({
    title: `Sign in to ${v.clientName}`,
    script: true,
    data: { base: v.base, csrf: v.csrf },
    body: html`${alert}
<div class="actions">
<button type="button" id="passkey-signin" class="primary">Sign in with a passkey</button>
${v.federation.map((f) => html`<a class="button" href="/signin/federated/${f.id}?returnTo=${encodeURIComponent(v.base)}">Sign in with ${f.name}</a>`)}
</div>
<p id="status" class="muted" role="status" aria-live="polite"></p>
<details><summary>Lost your passkey?</summary>
<form method="post" action="${v.base}/recovery">
<input type="hidden" name="csrf" value="${v.csrf}">
<label for="username">Username</label>
<input id="username" name="username" autocomplete="username" required maxlength="128">
<label for="recovery">Recovery code</label>
<input id="recovery" name="code" autocomplete="off" required maxlength="40">
<button type="submit">Sign in with a recovery code</button>
</form></details>
<p><a href="${v.base}/abort">Cancel</a></p>`,
  });
}

export function invitePage(v: { base: string; csrf: string; username: string; error?: string | undefined }): string {
  return page({
    title: "Set up your passkey",
    script: true,
    data: { base: v.base, csrf: v.csrf },
    body: html`<p>Welcome, <strong>${v.username}</strong>. Tenet uses passkeys instead of passwords: your device keeps a key that only works on this site, unlocked with your fingerprint, face or PIN.</p>
${v.error ? html`<p class="error" role="alert">${v.error}</p>` : html``}
<label for="passkey-name">Name this passkey (optional)</label>
<input id="passkey-name" maxlength="64" placeholder="e.g. Work laptop">
<div class="actions"><button type="button" id="passkey-register" class="primary">Create a passkey</button></div>
<p id="status" class="muted" role="status" aria-live="polite"></p>`,
  });
}

export function messagePage(title: string, message: string, link?: { href: string; text: string }): string {
  return page({ title, body: html`<p>${message}</p>${link ? html`<p><a class="button primary" href="${link.href}">${link.text}</a></p>` : html``}` });
}

export interface AccountView {
  csrf: string;
  username: string;
  passkeys: Passkey[];
  sessions: SessionInfo[];
  currentSession?: string | undefined;
  devices: Array<{ id: string; name: string; compliant: boolean; reasons: string[] }>;
  /** Whether an authenticator app is set up (undefined: TOTP not offered). */
  totp?: boolean | undefined;
  recoveryCodesLeft?: number | undefined;
  notice?: string | undefined;
}

export function accountPage(v: AccountView): string {
  const form = (action: string, label: string) =>
    html`<form method="post" action="${action}"><input type="hidden" name="csrf" value="${v.csrf}"><button type="submit">${label}</button></form>`;
  return page({
    title: `Your account`,
    script: true,
    data: { base: "/account", csrf: v.csrf },
    body: html`<p>Signed in as <strong>${v.username}</strong>.</p>
${v.notice ? html`<p role="status">${v.notice}</p>` : html``}
<h2>Passkeys</h2>
<table><thead><tr><th>Name</th><th>Kind</th><th>Last used</th><th></th></tr></thead><tbody>
${v.passkeys.map((p) => html`<tr><td>${p.name}</td><td>${p.hardware ? "security key" : p.backedUp ? "synced passkey" : "passkey"}</td><td>${p.lastUsedAt?.slice(0, 16).replace("T", " ") ?? "never"}</td><td>${form(`/account/passkeys/${p.id}/remove`, "Remove")}</td></tr>`)}
</tbody></table>
<label for="passkey-name">Add a passkey</label>
<input id="passkey-name" maxlength="64" placeholder="Name (optional)">
<button type="button" id="passkey-register">Add a passkey</button>
<p id="status" class="muted" role="status" aria-live="polite"></p>
${v.totp === undefined ? html`` : html`<h2>Authenticator app</h2>
${v.totp ? html`<p>Set up: codes from it can confirm sign-ins that need a second factor.</p>${form("/account/totp/remove", "Remove the authenticator app")}` : html`<p class="muted">Not set up.</p>${form("/account/totp/begin", "Set up an authenticator app")}`}`}
${v.recoveryCodesLeft === undefined ? html`` : html`<h2>Recovery codes</h2>
<p>${v.recoveryCodesLeft} left. Use one to sign in if you lose every passkey.</p>
${form("/account/recovery-codes", v.recoveryCodesLeft > 0 ? "Make new codes (the old ones stop working)" : "Make recovery codes")}`}
<h2>Sessions</h2>
<table><thead><tr><th>Signed in</th><th>From</th><th>Assurance</th><th></th></tr></thead><tbody>
${v.sessions.map((s) => html`<tr><td>${s.authTime ? new Date(s.authTime * 1000).toISOString().slice(0, 16).replace("T", " ") : ""}${s.uid === v.currentSession ? " (this one)" : ""}</td><td>${s.ip ?? ""}</td><td>${(s.amr ?? []).join(", ")}</td><td>${form(`/account/sessions/${s.uid}/revoke`, "Sign out")}</td></tr>`)}
</tbody></table>
<h2>Devices</h2>
${v.devices.length === 0 ? html`<p class="muted">No devices enrolled. Run <code>npx tenet device enroll</code> on a device.</p>` : html`<table><tbody>${v.devices.map((d) => html`<tr><td>${d.name}</td><td>${d.compliant ? "compliant" : `not compliant: ${d.reasons.join(", ")}`}</td><td>${form(`/account/devices/${d.id}/remove`, "Remove")}</td></tr>`)}</tbody></table>`}
${new Html("")}`,
  });
}

export function totpSetupPage(v: { csrf: string; secret: string; uri: string }): string {
  return page({
    title: "Set up an authenticator app",
    body: html`<p>Add this account to your authenticator app: open the link on your phone, or enter the key by hand.</p>
<p><a href="${v.uri}">Open in the authenticator app</a></p>
<p>Key: <code>${v.secret.replace(/(.{4})/g, "$1 ").trim()}</code></p>
<form method="post" action="/account/totp/confirm">
<input type="hidden" name="csrf" value="${v.csrf}">
<label for="code">Then enter the 6-digit code it shows</label>
<input id="code" name="code" inputmode="numeric" autocomplete="one-time-code" pattern="[0-9]{6}" maxlength="6" required>
<button type="submit" class="primary">Confirm</button>
</form>`,
  });
}

export function recoveryCodesPage(codes: string[]): string {
  return page({
    title: "Your recovery codes",
    body: html`<p>Keep these somewhere safe, away from your devices. Each works once. They are shown only now.</p>
<ul>${codes.map((c) => html`<li><code>${c}</code></li>`)}</ul>
<p><a class="button primary" href="/account">Done</a></p>`,
  });
}
