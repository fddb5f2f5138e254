import { reject } from "./types.js";

export interface Target {
  form: "origin" | "absolute" | "asterisk";
  /** For absolute-form: the scheme and the raw authority (normalised later with the Host header). */
  scheme?: "http" | "https";
  authority?: string;
  rawPath: string;
  query: string;
}

/**
 * Splits the request-target (RFC 9112 §3.2) into its form, path and query. Origin-form is the normal
 * case; absolute-form ("http://host/p?q") is accepted because RFC 9112 §3.2.2 requires servers to accept
 * it; asterisk-form only with OPTIONS (§3.2.4). Authority-form is only for CONNECT (§3.2.3), which is
 * refused earlier, so here it is a malformed target. A fragment is never part of a request-target.
 */
export function parseTarget(url: string, method: string, maxUrlLength: number): Target {
  if (url.length > maxUrlLength) reject(414, "url_too_long", `request-target longer than ${maxUrlLength}`);
  if (url === "") reject(400, "bad_target", "empty request-target");
  if (url === "*") {
    if (method !== "OPTIONS") reject(400, "bad_target", "asterisk-form is only valid with OPTIONS");
    return { form: "asterisk", rawPath: "*", query: "" };
  }
  let form: Target["form"] = "origin";
  let rest = url;
  let scheme: "http" | "https" | undefined;
  let authority: string | undefined;
  if (!url.startsWith("/")) {
    const m = /^(https?):\/\/([^/?#]*)(.*)$/is.exec(url);
    if (m === null) reject(400, "bad_target", "request-target must be origin-form or an http(s) absolute URI");
    form = "absolute";
    scheme = (m[1] as string).toLowerCase() as "http" | "https";
    authority = m[2] as string;
    rest = m[3] as string;
    if (rest === "" || rest.startsWith("?")) rest = "/" + rest; // RFC 9112 §3.2.1: empty path means "/"
  }
  if (rest.includes("#")) reject(400, "bad_target", "fragment in request-target");
  const q = rest.indexOf("?");
  const target: Target = { form, rawPath: q < 0 ? rest : rest.slice(0, q), query: q < 0 ? "" : rest.slice(q + 1) };
  if (scheme !== undefined) target.scheme = scheme;
  if (authority !== undefined) target.authority = authority;
  return target;
}
