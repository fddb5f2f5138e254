/**
 * One push of one SET (RFC 8935 §2):
 *
 *   POST <endpoint>
 *   content-type: application/secevent+jwt
 *   accept: application/json
 *   authorization: <the receiver's header, when it has one>
 *
 *   <the SET, compact JWS>
 *
 * The receiver acknowledges with 202 Accepted (§2.2); any 2xx counts, for receivers that answer
 * 200 or 204. A 400 with `{ "err", "description" }` (§2.3, §2.4) rejects the SET: `invalid_key`
 * (the receiver may not have fetched our new key yet) and `authentication_failed` (its
 * credentials may be fixed) are worth retrying; `invalid_request`, `invalid_issuer`,
 * `invalid_audience` and `access_denied` will not change by resending the same SET. Anything
 * else — another status, a refused connection, a timeout — is retried. Redirects are not
 * followed: configure the final URL.
 */
import { request } from "undici";

export const SET_CONTENT_TYPE = "application/secevent+jwt";

const PERMANENT_ERRORS: ReadonlySet<string> = new Set(["invalid_request", "invalid_issuer", "invalid_audience", "access_denied"]);

export type PushOutcome =
  | { ok: true; status: number }
  | {
      ok: false;
      /** Resending could succeed (false: the receiver rejected this SET for good). */
      retry: boolean;
      status?: number;
      /** RFC 8935 §2.4 error code, when the receiver gave one. */
      err?: string;
      /** For the record: says what happened, never what was sent. */
      error: string;
    };

export interface PushOptions {
  authorization?: string | undefined;
  timeoutMs: number;
  userAgent?: string;
}

/** Printable, one line, bounded: what a receiver says goes into our records and logs. */
function clean(value: unknown, max: number): string | undefined {
  if (typeof value !== "string") return undefined;
  const s = value.replace(/[^\x20-\x7e]+/g, " ").trim();
  return s === "" ? undefined : s.slice(0, max);
}

export async function pushSet(url: string, token: string, opts: PushOptions): Promise<PushOutcome> {
  try {
    const res = await request(url, {
      method: "POST",
      body: token,
      headers: {
        "content-type": SET_CONTENT_TYPE,
        accept: "application/json",
        "user-agent": opts.userAgent ?? "tenet-ssf",
        ...(opts.authorization !== undefined ? { authorization: opts.authorization } : {}),
      },
      headersTimeout: opts.timeoutMs,
      bodyTimeout: opts.timeoutMs,
      signal: AbortSignal.timeout(opts.timeoutMs),
    });
    const status = res.statusCode;
    if (status >= 200 && status < 300) {
      await res.body.dump({ limit: 64 * 1024 }).catch(() => undefined);
      return { ok: true, status };
    }
    if (status === 400) {
      const body = await readSmall(res.body);
      const parsed = parseError(body);
      if (parsed) {
        const error = `HTTP 400 ${parsed.err}${parsed.description ? `: ${parsed.description}` : ""}`;
        return { ok: false, retry: !PERMANENT_ERRORS.has(parsed.err), status, err: parsed.err, error };
      }
      return { ok: false, retry: true, status, error: "HTTP 400" };
    }
    await res.body.dump({ limit: 64 * 1024 }).catch(() => undefined);
    return { ok: false, retry: true, status, error: `HTTP ${status}` };
  } catch (err) {
    const e = err as { name?: string; message?: string; code?: string };
    if (e.name === "TimeoutError" || e.name === "AbortError") return { ok: false, retry: true, error: `timeout after ${opts.timeoutMs} ms` };
    return { ok: false, retry: true, error: clean(e.message, 200) ?? e.code ?? "request failed" };
  }
}

async function readSmall(body: AsyncIterable<Buffer | string>): Promise<string> {
  let out = "";
  for await (const chunk of body) {
    out += typeof chunk === "string" ? chunk : chunk.toString("utf8");
    if (out.length > 8192) break;
  }
  return out;
}

function parseError(text: string): { err: string; description?: string } | undefined {
  try {
    const j = JSON.parse(text) as { err?: unknown; description?: unknown };
    const err = clean(j?.err, 64);
    if (err === undefined || !/^[a-z_]+$/.test(err)) return undefined;
    const description = clean(j.description, 200);
    return description !== undefined ? { err, description } : { err };
  } catch {
    return undefined;
  }
}
