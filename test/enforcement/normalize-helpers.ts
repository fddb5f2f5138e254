import assert from "node:assert/strict";
import { normalizeRequest, type NormalizeOptions, type NormalizedRequest, type RawRequest, type Rejection } from "../../src/enforcement/normalize.js";

/** Builds a RawRequest the way Node would: rawHeaders as received, headers lower-cased (first wins). */
export function raw(method: string, url: string, pairs: [string, string][] = [["Host", "example.com"]], httpVersion = "1.1"): RawRequest {
  const headers: Record<string, string | string[]> = {};
  for (const [n, v] of pairs) if (!(n.toLowerCase() in headers)) headers[n.toLowerCase()] = v;
  return { method, url, headers, rawHeaders: pairs.flat(), httpVersion };
}

export function accept(r: RawRequest, opts?: NormalizeOptions): NormalizedRequest {
  const res = normalizeRequest(r, opts);
  if (!res.ok) assert.fail(`expected acceptance, got ${res.rejection.status} ${res.rejection.code}: ${res.rejection.message}`);
  return res.request;
}

export function refuse(r: RawRequest, opts?: NormalizeOptions): Rejection {
  const res = normalizeRequest(r, opts);
  if (res.ok) assert.fail(`expected rejection, got ${JSON.stringify(res.request)}`);
  return res.rejection;
}
