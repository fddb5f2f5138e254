import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { normalizeRequest } from "../../src/enforcement/normalize.js";
import { rng } from "../rng.js";
import { raw } from "./normalize-helpers.js";

/** Pieces of path segments chosen to hit every rule: dots, encodings, doubles, slashes, UTF-8, junk. */
const PIECES = [
  "a", "B", "z9", "~", "-", "_", ".", "..", "...", "", "%2e", "%2E", "%2f", "%2F", "%5c", "%5C", "\\", "%41", "%61",
  "%25", "%252e", "%252F", "%32", "%65", "%3a", "%3A", "%3f", "%00", "%0a", "%7f", ";", "..;", ".;", "%3b", ":", "@",
  "%c3%a9", "%C3", "%a9", "%c0%af", "%e2%82%ac", "%", "%g1", "\u00e9", " ", "|", "{", "^", "`", "[", "#", "?", "&", "=",
  "+", "%20", "%7E", "%2D",
];

function randomPath(next: () => number): string {
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(next() * xs.length)] as T;
  let p = "";
  const segs = 1 + Math.floor(next() * 7);
  for (let i = 0; i < segs; i++) {
    p += next() < 0.15 ? "//" : "/";
    const parts = Math.floor(next() * 3);
    for (let j = 0; j < parts; j++) p += pick(PIECES);
  }
  return p;
}

const SEED = Number(process.env["FUZZ_SEED"] ?? 20261205);
const N = Number(process.env["FUZZ_N"] ?? 20000);

describe(`path normalisation properties (seed ${SEED}, ${N} paths)`, () => {
  it("accepted output is canonical, safe for every decoder, a WHATWG fixed point, and idempotent", () => {
    const next = rng(SEED);
    let accepted = 0;
    for (let i = 0; i < N; i++) {
      const input = randomPath(next);
      const res = normalizeRequest(raw("GET", input));
      if (!res.ok) {
        assert.ok([400, 414].includes(res.rejection.status), `${input}: ${res.rejection.status}`);
        continue;
      }
      accepted++;
      const out = res.request.path;
      const pathOnly = input.split("?")[0];
      const ctx = `${JSON.stringify(input)} → ${JSON.stringify(out)}`;
      assert.equal(res.request.rawPath, pathOnly, ctx);
      assert.ok(out.startsWith("/"), ctx);
      for (const bad of ["/../", "/./", "//", "\\", "%2F", "%2f", "%5C", "%5c", "%25"]) {
        if (bad === "%25") continue; // a literal "%25" not followed by hex is legitimate
        assert.ok(!out.includes(bad), `${ctx} contains ${bad}`);
      }
      assert.ok(!/\/\.\.?$/.test(out), `${ctx} ends in a dot segment`);
      assert.ok(!/%25[0-9A-Fa-f]{2}/.test(out), `${ctx} is double-encoded`);
      assert.ok(!/%[0-9a-f][a-f]|%[a-f][0-9a-f]/.test(out), `${ctx} has lower-case hex`);
      // eslint-disable-next-line no-control-regex
      assert.ok(!/[\x00-\x20\x7f-\uffff]/.test(out), `${ctx} has raw control/space/non-ASCII`);
      // An upstream that percent-decodes each segment once still sees the same segment structure.
      for (const seg of out.split("/").slice(1)) {
        const decoded = decodeURIComponent(seg);
        assert.ok(!decoded.includes("/") && !decoded.includes("\\") && decoded !== "." && decoded !== "..", `${ctx}: segment ${seg}`);
        assert.ok(!/^\.\.?;/.test(decoded), `${ctx}: dot segment with params`);
      }
      // The WHATWG URL parser (used by undici, fetch, many frameworks) leaves the output alone.
      assert.equal(new URL(out, "http://h.example").pathname, out, ctx);
      // Idempotence: normalising the output again is a no-op.
      const again = normalizeRequest(raw("GET", out));
      assert.ok(again.ok, `${ctx} is refused when normalised again`);
      assert.equal(again.request.path, out, ctx);
    }
    // The grammar must exercise both sides; if everything were refused the properties would be vacuous.
    assert.ok(accepted > N / 10, `only ${accepted} of ${N} accepted`);
    assert.ok(accepted < N, "nothing refused");
  });

  it("never throws on arbitrary strings (method, url, header names and values)", () => {
    const next = rng(SEED + 1);
    const alphabet = "aZ09/.%\\:@?#;,= \t\r\n\u0000\u007f\u00e9\u2028-_~";
    const str = (max: number): string => {
      let s = "";
      const n = Math.floor(next() * max);
      for (let i = 0; i < n; i++) s += alphabet[Math.floor(next() * alphabet.length)];
      return s;
    };
    for (let i = 0; i < 5000; i++) {
      const pairs: [string, string][] = [];
      const n = Math.floor(next() * 5);
      for (let j = 0; j < n; j++) {
        const name = next() < 0.5 ? (["Host", "Content-Length", "Transfer-Encoding", "Connection", "Upgrade"][j] as string) : str(8);
        pairs.push([name, str(12)]);
      }
      const res = normalizeRequest(raw(next() < 0.8 ? "GET" : str(5), next() < 0.5 ? "/" + str(20) : str(20), pairs));
      if (!res.ok) assert.match(res.rejection.code, /^[a-z_]+$/);
    }
  });

  it("framing decisions are consistent for random Content-Length / Transfer-Encoding combinations", () => {
    const next = rng(SEED + 2);
    const clValues = ["0", "5", "6", "05", "5, 5", "5, 6", "+5", "", "abc", " 5 "];
    const teValues = ["chunked", "CHUNKED", "chunked, identity", "gzip, chunked", "xchunked", "identity", ""];
    for (let i = 0; i < 3000; i++) {
      const pairs: [string, string][] = [["Host", "example.com"]];
      const ncl = Math.floor(next() * 3);
      const nte = Math.floor(next() * 3);
      for (let j = 0; j < ncl; j++) pairs.push(["Content-Length", clValues[Math.floor(next() * clValues.length)] as string]);
      for (let j = 0; j < nte; j++) pairs.push(["Transfer-Encoding", teValues[Math.floor(next() * teValues.length)] as string]);
      const res = normalizeRequest(raw("POST", "/", pairs));
      const ctx = JSON.stringify(pairs);
      if (ncl > 0 && nte > 0) assert.ok(!res.ok && res.rejection.code === "ambiguous_length", ctx);
      if (nte > 1) assert.ok(!res.ok, ctx);
      if (res.ok) {
        assert.equal(res.request.headers["transfer-encoding"], undefined, ctx);
        if (nte === 1) assert.deepEqual(res.request.framing, { kind: "chunked" }, ctx);
        if (ncl > 0) assert.equal(res.request.framing.kind, "length", ctx);
        if (ncl === 0 && nte === 0) assert.deepEqual(res.request.framing, { kind: "none" }, ctx);
      }
    }
  });
});
