/**
 * Webhook endpoints: where the outbox's events are POSTed. Validated once, when the service is
 * configured, so a typo fails at start rather than at the first event.
 */
import { TenetError } from "../../errors.js";

export interface WebhookEndpoint {
  /** http:// or https://, without credentials in it. */
  url: string;
  /** The HMAC-SHA256 key for `tenet-signature` (at least 16 characters; never stored with events). */
  secret: string;
}

export const MIN_SECRET_LENGTH = 16;

/** Checks every endpoint; throws `validation_error` naming the key to fix. */
export function webhookEndpoints(input: unknown, where = "webhooks"): WebhookEndpoint[] {
  if (input === undefined) return [];
  if (!Array.isArray(input)) throw new TenetError("validation_error", `${where} must be a list of { url, secret }`);
  const seen = new Set<string>();
  return input.map((e: unknown, i) => {
    const at = `${where}[${i}]`;
    if (typeof e !== "object" || e === null) throw new TenetError("validation_error", `${at} must be an object { url, secret }`);
    const { url, secret } = e as { url?: unknown; secret?: unknown };
    if (typeof url !== "string") throw new TenetError("validation_error", `${at}.url is required`);
    let u: URL;
    try {
      u = new URL(url);
    } catch {
      throw new TenetError("validation_error", `${at}.url '${url}' is not a URL`);
    }
    if (u.protocol !== "http:" && u.protocol !== "https:") {
      throw new TenetError("validation_error", `${at}.url must use http or https, not '${u.protocol.replace(/:$/, "")}'`);
    }
    if (u.username !== "" || u.password !== "") {
      throw new TenetError("validation_error", `${at}.url must not hold credentials: receivers authenticate Tenet by the signature`);
    }
    if (typeof secret !== "string" || secret.length < MIN_SECRET_LENGTH) {
      throw new TenetError("validation_error", `${at}.secret is required: at least ${MIN_SECRET_LENGTH} characters, shared with the receiver to verify tenet-signature`);
    }
    if (seen.has(u.href)) throw new TenetError("validation_error", `${at}.url '${url}' is listed twice`);
    seen.add(u.href);
    return { url: u.href, secret };
  });
}
