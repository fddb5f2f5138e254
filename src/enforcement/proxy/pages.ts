/**
 * The proxy's own pages: refusals, pending approvals, device remediation. On an application's host
 * only `/.tenet/` is Tenet's, so the stylesheet is served there by the proxy itself.
 */
import { html, page } from "../../identity/web/html.js";
import { CSS } from "../../identity/web/styles.js";

export const PROXY_ASSET_PREFIX = "/.tenet/assets";
export const PROXY_STYLESHEET_PATH = `${PROXY_ASSET_PREFIX}/tenet.css`;
export const PROXY_STYLESHEET = CSS;
export const PROXY_PAGE_CSP = "default-src 'none'; style-src 'self'; img-src data:; frame-ancestors 'none'; base-uri 'none'; form-action 'none'";

export function proxyPage(title: string, message: string): string {
  return page({ title, body: html`<p>${message}</p>`, assetPrefix: PROXY_ASSET_PREFIX });
}

/** How often the pending page asks again (seconds): an approval opens the app without a click. */
export const PENDING_RECHECK_SECONDS = 15;

/** A just-in-time request waiting for approval: what was asked, of whom, and that it is re-checked. */
export function pendingPage(requestId: string, approvers: string[]): string {
  const who = approvers.length > 0 ? approvers : ["an approver"];
  return page({
    title: "Waiting for approval",
    body: html`<p>Access to this application needs an approval. Your request has been sent.</p>
<dl>
<dt>Request</dt><dd><code>${requestId}</code></dd>
<dt>Status</dt><dd role="status">Waiting for approval</dd>
<dt>Approvers</dt><dd>${who.join(", ")}</dd>
</dl>
<p>This page checks again every ${String(PENDING_RECHECK_SECONDS)} seconds and opens the application once the request is approved.</p>`,
    assetPrefix: PROXY_ASSET_PREFIX,
  });
}
