/**
 * Server-rendered pages: plain HTML strings with every dynamic value escaped, one stylesheet and
 * one script served from Tenet's own origin (so the Content-Security-Policy can forbid inline
 * code entirely), no front-end framework. Pages are small and work without JavaScript except
 * where WebAuthn needs it.
 */

const ESCAPES: Record<string, string> = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;", "`": "&#96;" };

/** Escapes text for HTML element content and quoted attribute values. */
export function esc(value: unknown): string {
  return String(value ?? "").replace(/[&<>"'`]/g, (c) => ESCAPES[c]!);
}

/** A trusted fragment of HTML (built only from literals and `esc`). */
export class Html {
  constructor(readonly text: string) {}
  toString(): string {
    return this.text;
  }
}

/** Tagged template: interpolated values are escaped unless they are Html (or arrays of Html). */
export function html(strings: TemplateStringsArray, ...values: unknown[]): Html {
  let out = strings[0]!;
  values.forEach((v, i) => {
    out += Array.isArray(v) ? v.map((x) => (x instanceof Html ? x.text : esc(x))).join("") : v instanceof Html ? v.text : esc(v);
    out += strings[i + 1]!;
  });
  return new Html(out);
}

export const ASSET_PREFIX = "/signin/assets";

export interface PageOptions {
  title: string;
  body: Html;
  /** Data for the page script, as a JSON island (not executed; read by the script). */
  data?: unknown;
  script?: boolean;
  /** Where the stylesheet and script are served (default ASSET_PREFIX; the proxy uses its own, /.tenet/assets, on applications' hosts). */
  assetPrefix?: string;
}

/** A complete page. */
export function page(o: PageOptions): string {
  // JSON in a non-executable script element: escape `<` so `</script>` cannot end it early.
  const data = o.data === undefined ? "" : `<script type="application/json" id="tenet-data">${JSON.stringify(o.data).replace(/</g, "\\u003c")}</script>`;
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<link rel="icon" href="data:,">
<title>${esc(o.title)} · Tenet</title>
<link rel="stylesheet" href="${o.assetPrefix ?? ASSET_PREFIX}/tenet.css">
</head>
<body>
<main class="card">
<p class="brand" aria-hidden="true">Tenet</p>
<h1>${esc(o.title)}</h1>
${o.body.text}
</main>
${data}${o.script ? `<script src="${o.assetPrefix ?? ASSET_PREFIX}/webauthn.js" defer></script>` : ""}
</body>
</html>`;
}

/** The strict policy of Tenet's own pages; `formTargets` adds where forms may go (logout: any RP). */
export function contentSecurityPolicy(opts: { anyFormTarget?: boolean } = {}): string {
  return [
    "default-src 'none'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data:",
    "connect-src 'self'",
    opts.anyFormTarget ? "form-action 'self' https: http://localhost:* http://127.0.0.1:*" : "form-action 'self'",
    "frame-ancestors 'none'",
    "base-uri 'none'",
  ].join("; ");
}
