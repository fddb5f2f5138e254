/** The pages the OIDC library itself renders: errors and RP-initiated logout. */
import { Html, html, page } from "../web/html.js";

/** An authorization error the library cannot redirect back with (e.g. an unknown redirect_uri). */
export function errorPage(out: { error?: string | undefined; error_description?: string | undefined }): string {
  return page({
    title: "Sign-in failed",
    body: html`<p role="alert"><strong>${out.error ?? "error"}</strong>: ${out.error_description ?? "the request could not be completed"}</p>
<p>Go back to the application and try again.</p>`,
  });
}

/**
 * The logout confirmation. The library gives the form (hidden, with its CSRF token); it must be
 * posted to end the session. Its markup is the library's own, not user input.
 */
export function logoutPage(form: string): string {
  const id = /id="([^"]+)"/.exec(form)?.[1] ?? "op.logoutForm";
  return page({
    title: "Sign out",
    body: html`<p>Sign out of Tenet and of every application you signed in to with it?</p>
${new Html(form)}
<div class="actions">
<button type="submit" form="${id}" name="logout" value="yes" class="primary">Sign out</button>
<button type="submit" form="${id}">Stay signed in</button>
</div>`,
  });
}

export function loggedOutPage(): string {
  return page({ title: "Signed out", body: html`<p>You are signed out. You can close this window.</p>` });
}

/** Device authorization (RFC 8628): where the person types the code the device shows. */
export function deviceInputPage(form: string, error: boolean): string {
  const id = /id="([^"]+)"/.exec(form)?.[1] ?? "op.deviceInputForm";
  return page({
    title: "Connect a device",
    body: html`${error ? html`<p class="error" role="alert">That code is not right or has expired. Try again.</p>` : html`<p>Enter the code shown on the device or in the terminal.</p>`}
${new Html(form.replace("<input", '<label for="user_code">Code</label><input id="user_code" autocomplete="off"'))}
<div class="actions"><button type="submit" form="${id}" class="primary">Continue</button></div>`,
  });
}

/** Confirms which device is being connected, before signing in. */
export function deviceConfirmPage(form: string, clientName: string, userCode: string): string {
  const id = /id="([^"]+)"/.exec(form)?.[1] ?? "op.deviceConfirmForm";
  return page({
    title: "Connect a device",
    body: html`<p><strong>${clientName}</strong> asks to act as you. Only continue if you started this and the code matches:</p>
<p><code>${userCode}</code></p>
${new Html(form)}
<div class="actions">
<button type="submit" form="${id}" class="primary">Continue</button>
<button type="submit" form="${id}" name="abort" value="yes">Cancel</button>
</div>`,
  });
}

export function deviceSuccessPage(clientName: string): string {
  return page({ title: "Device connected", body: html`<p>${clientName} is signed in. You can close this window and return to it.</p>` });
}
