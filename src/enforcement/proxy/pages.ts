/** The proxy's own pages: refusals, pending approvals, device remediation. */
import { html, page } from "../../identity/web/html.js";

export function proxyPage(title: string, message: string): string {
  return page({ title, body: html`<p>${message}</p>` });
}
