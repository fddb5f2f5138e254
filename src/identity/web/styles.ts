/** The stylesheet of Tenet's pages (sign-in, account, the proxy's refusals): one file, no inline styles. */

export const CSS = `:root{color-scheme:light dark;font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;line-height:1.5}
body{margin:0;min-height:100vh;display:grid;place-items:center;background:Canvas;color:CanvasText}
.card{max-width:28rem;width:calc(100% - 2rem);padding:2rem;border:1px solid color-mix(in srgb,CanvasText 20%,transparent);border-radius:12px}
.brand{font-weight:700;letter-spacing:.05em;margin:0 0 .5rem;opacity:.7}
h1{font-size:1.4rem;margin:.2rem 0 1rem}
button,.button{display:inline-block;font:inherit;padding:.6rem 1rem;border-radius:8px;border:1px solid color-mix(in srgb,CanvasText 30%,transparent);background:Canvas;color:CanvasText;cursor:pointer;text-decoration:none;margin:.25rem 0}
button.primary,.button.primary{background:#1f5fbf;color:#fff;border-color:#1f5fbf;width:100%}
button:focus-visible,a:focus-visible,input:focus-visible{outline:3px solid #f0a400;outline-offset:2px}
label{display:block;margin:.75rem 0 .25rem;font-weight:600}
input{font:inherit;width:100%;box-sizing:border-box;padding:.5rem;border-radius:6px;border:1px solid color-mix(in srgb,CanvasText 30%,transparent)}
.actions{display:flex;flex-direction:column;gap:.25rem;margin-top:1rem}
.error{color:#b00020}
.muted{opacity:.75;font-size:.9rem}
table{width:100%;border-collapse:collapse;font-size:.9rem}td,th{text-align:left;padding:.3rem;border-bottom:1px solid color-mix(in srgb,CanvasText 15%,transparent)}
details{margin-top:1rem}
`;
