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
