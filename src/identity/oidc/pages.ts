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
