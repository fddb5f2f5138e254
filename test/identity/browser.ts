/**
 * A scripted browser for protocol tests: fetch with manual redirects and a cookie jar that honours
 * cookie paths (the provider scopes its interaction cookies to /signin/<uid> and /oidc/auth/<uid>).
 */
export class Browser {
  private readonly jar = new Map<string, { value: string; path: string }>();
  constructor(readonly origin: string) {}

  /** The Cookie header this browser sends to `path` of its origin. */
  cookieHeader(path: string): string {
    return [...this.jar.entries()]
      .filter(([, c]) => path === c.path || path.startsWith(c.path.endsWith("/") ? c.path : `${c.path}/`) || c.path === "/")
      .map(([k, c]) => `${k.split("|")[0]}=${c.value}`)
      .join("; ");
  }

  private store(res: Response): void {
    for (const line of res.headers.getSetCookie()) {
      const [pair, ...attrs] = line.split(";");
      const eq = pair!.indexOf("=");
      const name = pair!.slice(0, eq).trim();
      const value = pair!.slice(eq + 1).trim();
      const path = attrs.map((a) => a.trim()).find((a) => a.toLowerCase().startsWith("path="))?.slice(5) ?? "/";
      const expired = attrs.some((a) => /max-age=0|expires=thu, 01 jan 1970/i.test(a.trim())) || value === "";
      if (expired) this.jar.delete(`${name}|${path}`);
      else this.jar.set(`${name}|${path}`, { value, path });
    }
  }

  cookies(): string[] {
    return [...this.jar.keys()].map((k) => k.split("|")[0]!);
  }

  async request(url: string, init: RequestInit = {}): Promise<Response> {
    const u = new URL(url, this.origin);
    const headers = new Headers(init.headers);
    if (u.origin === this.origin) {
      const c = this.cookieHeader(u.pathname);
      if (c) headers.set("cookie", c);
    }
    const res = await fetch(u, { ...init, headers, redirect: "manual" });
    if (u.origin === this.origin) this.store(res);
    return res;
  }

  /** Follows redirects within Tenet's origin; stops at the first response elsewhere or non-redirect. */
  async follow(url: string, init: RequestInit = {}): Promise<{ res: Response; url: string }> {
    let res = await this.request(url, init);
    let at = new URL(url, this.origin).href;
    for (let i = 0; i < 10 && res.status >= 300 && res.status < 400; i++) {
      const next = new URL(res.headers.get("location")!, at).href;
      if (!next.startsWith(this.origin)) return { res, url: next };
      at = next;
      res = await this.request(next);
    }
    return { res, url: at };
  }

  async postJson(path: string, body: unknown, csrf: string, headers: Record<string, string> = {}): Promise<Response> {
    return this.request(path, { method: "POST", headers: { "content-type": "application/json", "x-csrf-token": csrf, origin: this.origin, ...headers }, body: JSON.stringify(body) });
  }
}

/** The JSON island of a sign-in page (its CSRF token and base path). */
export function pageData(html: string): { base: string; csrf: string } {
  const m = /<script type="application\/json" id="tenet-data">([^<]*)<\/script>/.exec(html);
  if (!m) throw new Error(`no page data in:\n${html.slice(0, 500)}`);
  return JSON.parse(m[1]!) as { base: string; csrf: string };
}

/** A response's JSON body, loosely typed (tests assert on its fields). */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function json(r: Response | Promise<Response>): Promise<any> {
  return (await r).json();
}
