import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { normalizeRequest } from "../../src/enforcement/normalize.js";
import { accept, raw, refuse } from "./normalize-helpers.js";

const H = (host: string, ...more: [string, string][]): [string, string][] => [["Host", host], ...more];

describe("host (RFC 9110 §7.2, RFC 3986 §3.2.2)", () => {
  const accepted: [string, string, ("http" | "https")?][] = [
    ["example.com", "example.com"],
    ["ExAmPlE.CoM.", "example.com"],
    ["EXAMPLE.COM", "example.com"],
    ["example.com:8443", "example.com:8443"],
    ["example.com:80", "example.com:80"], // scheme unknown: the port is kept
    ["example.com:443", "example.com:443"],
    ["example.com:80", "example.com", "http"],
    ["example.com:443", "example.com", "https"],
    ["example.com:80", "example.com:80", "https"],
    ["example.com:0443", "example.com", "https"],
    ["example.com:", "example.com"], // empty port (RFC 3986 §6.2.3)
    ["a-b.c-d.example", "a-b.c-d.example"],
    ["xn--caf-dma.example", "xn--caf-dma.example"],
    ["localhost", "localhost"],
    ["127.0.0.1", "127.0.0.1"],
    ["10.0.0.1:8080", "10.0.0.1:8080"],
    ["[::1]", "[::1]"],
    ["[::1]:8080", "[::1]:8080"],
    ["[2001:DB8:0:0:0:0:0:1]", "[2001:db8::1]"],
    ["[::1]:443", "[::1]", "https"],
    ["1a.example", "1a.example"],
  ];
  for (const [host, want, scheme] of accepted) {
    it(`accepts Host ${JSON.stringify(host)}${scheme ? ` on ${scheme}` : ""} → ${want}`, () => {
      const r = accept(raw("GET", "/", H(host)), scheme ? { scheme } : {});
      assert.equal(r.host, want);
      assert.equal(r.headers["host"], want);
    });
  }
  const refused: [string, string][] = [
    ["a@b", "bad_host"],
    ["user:pass@example.com", "bad_host"],
    ["example.com..", "bad_host"],
    [".example.com", "bad_host"],
    ["exa_mple.com", "bad_host"],
    ["-example.com", "bad_host"],
    ["example-.com", "bad_host"],
    ["ex ample.com", "bad_host"],
    ["caf\u00e9.example", "bad_host"],
    ["example.com/evil", "bad_host"],
    ["example.com\\evil", "bad_host"],
    ["example.com:99999", "bad_host"],
    ["example.com:0", "bad_host"],
    ["example.com:+80", "bad_host"],
    ["example.com:80:80", "bad_host"],
    ["a".repeat(64) + ".example", "bad_host"],
    ["0177.0.0.1", "bad_host"], // octal
    ["2130706433", "bad_host"], // integer IPv4
    ["0x7f.0.0.1", "bad_host"],
    ["127.1", "bad_host"],
    ["256.0.0.1", "bad_host"],
    ["1.2.3.4.5", "bad_host"],
    ["[::1", "bad_host"],
    ["[::g]", "bad_host"],
    ["[fe80::1%25eth0]", "bad_host"],
    ["[::1]x", "bad_host"],
    ["127.0.0.1]", "bad_host"],
  ];
  for (const [host, code] of refused) {
    it(`refuses Host ${JSON.stringify(host)}`, () => assert.deepEqual(refuse(raw("GET", "/", H(host))).code, code));
  }
  it("refuses a duplicate Host (seen only in rawHeaders)", () => {
    const rej = refuse(raw("GET", "/", [["Host", "a.example"], ["Host", "b.example"]]));
    assert.deepEqual([rej.status, rej.code], [400, "duplicate_host"]);
    // Even identical duplicates: two parsers may still pick different ones after other transformations.
    assert.equal(refuse(raw("GET", "/", [["Host", "a.example"], ["host", "a.example"]])).code, "duplicate_host");
  });
  it("refuses a duplicate Host given as an array without rawHeaders", () => {
    const rej = refuse({ method: "GET", url: "/", headers: { host: ["a.example", "b.example"] } });
    assert.equal(rej.code, "duplicate_host");
  });
  it("refuses a missing or empty Host", () => {
    assert.equal(refuse(raw("GET", "/", [])).code, "missing_host");
    assert.equal(refuse(raw("GET", "/", [["Host", ""]])).code, "missing_host");
    assert.equal(refuse(raw("GET", "/", [], "1.0")).code, "missing_host");
  });
  it("works from the headers object alone (no rawHeaders)", () => {
    const res = normalizeRequest({ method: "GET", url: "/x", headers: { host: "Example.com", accept: "*/*", "x-skip": undefined } });
    assert.ok(res.ok);
    assert.equal(res.request.host, "example.com");
    assert.deepEqual(Object.keys(res.request.headers).sort(), ["accept", "host"]);
  });
});

describe("body framing / request smuggling (RFC 9112 §6.3, §7.1)", () => {
  const cases: [string, [string, string][], number | { kind: string; length?: number }, string?, string?][] = [
    // [name, extra headers, expected status or framing, code, http version]
    ["no body", [], { kind: "none" }],
    ["Content-Length", [["Content-Length", "5"]], { kind: "length", length: 5 }],
    ["Content-Length: 0", [["Content-Length", "0"]], { kind: "length", length: 0 }],
    ["Content-Length with leading zeros", [["Content-Length", "005"]], { kind: "length", length: 5 }],
    ["identical Content-Length list", [["Content-Length", "5, 5"]], { kind: "length", length: 5 }],
    ["identical Content-Length lines", [["Content-Length", "5"], ["Content-Length", "5"]], { kind: "length", length: 5 }],
    ["chunked", [["Transfer-Encoding", "chunked"]], { kind: "chunked" }],
    ["CHUNKED (case-insensitive)", [["Transfer-Encoding", "CHUNKED"]], { kind: "chunked" }],
    ["chunked with OWS", [["Transfer-Encoding", " chunked\t"]], { kind: "chunked" }],
    ["CL + TE", [["Content-Length", "5"], ["Transfer-Encoding", "chunked"]], 400, "ambiguous_length"],
    ["TE + CL", [["Transfer-Encoding", "chunked"], ["Content-Length", "0"]], 400, "ambiguous_length"],
    ["Content-Length: 5, 6", [["Content-Length", "5, 6"]], 400, "ambiguous_length"],
    ["two different Content-Length lines", [["Content-Length", "5"], ["Content-Length", "6"]], 400, "ambiguous_length"],
    ["Content-Length: abc", [["Content-Length", "abc"]], 400, "bad_content_length"],
    ["Content-Length: +5", [["Content-Length", "+5"]], 400, "bad_content_length"],
    ["Content-Length: -1", [["Content-Length", "-1"]], 400, "bad_content_length"],
    ["Content-Length: 0x5", [["Content-Length", "0x5"]], 400, "bad_content_length"],
    ["Content-Length: 5.0", [["Content-Length", "5.0"]], 400, "bad_content_length"],
    ["Content-Length empty", [["Content-Length", ""]], 400, "bad_content_length"],
    ["Content-Length: 5,", [["Content-Length", "5,"]], 400, "bad_content_length"],
    ["Content-Length huge", [["Content-Length", "9".repeat(20)]], 400, "bad_content_length"],
    ["chunked, identity", [["Transfer-Encoding", "chunked, identity"]], 400, "bad_transfer_encoding"],
    ["xchunked", [["Transfer-Encoding", "xchunked"]], 400, "bad_transfer_encoding"],
    ["identity", [["Transfer-Encoding", "identity"]], 400, "bad_transfer_encoding"],
    ["chunked, chunked", [["Transfer-Encoding", "chunked, chunked"]], 400, "bad_transfer_encoding"],
    ["two TE lines", [["Transfer-Encoding", "chunked"], ["Transfer-Encoding", "chunked"]], 400, "bad_transfer_encoding"],
    ["TE with vertical tab", [["Transfer-Encoding", "\u000bchunked"]], 400, "bad_header"],
    ["quoted TE", [["Transfer-Encoding", '"chunked"']], 400, "bad_transfer_encoding"],
    ["TE empty", [["Transfer-Encoding", ""]], 400, "bad_transfer_encoding"],
    ["gzip, chunked", [["Transfer-Encoding", "gzip, chunked"]], 501, "unsupported_transfer_encoding"],
    ["TE in HTTP/1.0", [["Transfer-Encoding", "chunked"]], 400, "bad_transfer_encoding", "1.0"],
  ];
  for (const [name, extra, want, code, version] of cases) {
    it(name, () => {
      const r = raw("POST", "/", H("example.com", ...extra), version);
      if (typeof want === "number") {
        const rej = refuse(r);
        assert.deepEqual([rej.status, rej.code], [want, code]);
      } else {
        const ok = accept(r);
        assert.deepEqual(ok.framing, want);
        assert.equal(ok.headers["transfer-encoding"], undefined);
        // One canonical Content-Length is forwarded, never a list or leading zeros.
        assert.equal(ok.headers["content-length"], want.length === undefined ? undefined : String(want.length));
      }
    });
  }
  it("a body on GET is allowed and reported through framing", () => {
    assert.deepEqual(accept(raw("GET", "/", H("example.com", ["Content-Length", "3"]))).framing, { kind: "length", length: 3 });
  });
});

describe("hop-by-hop headers (RFC 9110 §7.6.1)", () => {
  it("removes hop-by-hop headers and every header Connection names", () => {
    const r = accept(
      raw("GET", "/", [
        ["Host", "example.com"],
        ["Connection", "close, X-Tenet-User, X-Custom"],
        ["X-Custom", "1"],
        ["X-Tenet-User", "admin"],
        ["Keep-Alive", "timeout=5"],
        ["Proxy-Connection", "keep-alive"],
        ["TE", "trailers"],
        ["Trailer", "X-Sig"],
        ["Upgrade", "h2c"],
        ["Proxy-Authorization", "Basic eA=="],
        ["Proxy-Authenticate", "Basic"],
        ["Accept", "text/html"],
      ]),
    );
    assert.deepEqual(r.headers, { host: "example.com", accept: "text/html" });
    assert.equal(r.upgrade, undefined);
  });
  for (const named of ["authorization", "Host", "cookie", "content-length", "transfer-encoding"]) {
    it(`refuses Connection: ${named}`, () => {
      const rej = refuse(raw("GET", "/", H("example.com", ["Connection", `keep-alive, ${named}`], ["Authorization", "Bearer x"])));
      assert.deepEqual([rej.status, rej.code], [400, "bad_connection"]);
    });
  }
  it("refuses a malformed Connection list; ignores empty elements", () => {
    assert.equal(refuse(raw("GET", "/", H("example.com", ["Connection", "close; x"]))).code, "bad_connection");
    assert.deepEqual(accept(raw("GET", "/", H("example.com", ["Connection", ", ,close,"]))).headers, { host: "example.com" });
  });
  const ws: [string, string, [string, string][], string, boolean][] = [
    ["valid", "GET", [["Connection", "Upgrade"], ["Upgrade", "websocket"]], "1.1", true],
    ["valid, mixed case and list", "GET", [["Connection", "keep-alive, upgrade"], ["Upgrade", "WebSocket"]], "1.1", true],
    ["Upgrade without Connection: upgrade", "GET", [["Upgrade", "websocket"]], "1.1", false],
    ["Connection: upgrade without Upgrade", "GET", [["Connection", "upgrade"]], "1.1", false],
    ["other protocol", "GET", [["Connection", "upgrade"], ["Upgrade", "h2c"]], "1.1", false],
    ["POST", "POST", [["Connection", "upgrade"], ["Upgrade", "websocket"]], "1.1", false],
    ["HTTP/1.0", "GET", [["Connection", "upgrade"], ["Upgrade", "websocket"]], "1.0", false],
    ["two Upgrade lines", "GET", [["Connection", "upgrade"], ["Upgrade", "websocket"], ["Upgrade", "websocket"]], "1.1", false],
  ];
  for (const [name, method, extra, version, isWs] of ws) {
    it(`WebSocket upgrade: ${name}`, () => {
      const r = accept(raw(method, "/ws", H("example.com", ["Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="], ...extra), version));
      assert.equal(r.upgrade, isWs ? "websocket" : undefined);
      assert.equal(r.headers["upgrade"], undefined);
      assert.equal(r.headers["connection"], undefined);
      assert.equal(r.headers["sec-websocket-key"], "dGhlIHNhbXBsZSBub25jZQ==");
    });
  }
});

describe("identity and forwarding headers from the client", () => {
  const spoofed = [
    "X-Forwarded-User",
    "X-Forwarded-Email",
    "X-Forwarded-Groups",
    "X-Tenet-Subject",
    "X-Tenet-User",
    "x-tenet-assertion",
    "x-auth-request-email",
    "X-Auth-Request-User",
    "X-Remote-User",
    "Remote-User",
    "X-User",
    "X-User-Id",
    "X-Email",
    "X_Tenet_User", // CGI maps "_" to "-"
    "x_forwarded_user",
    "X-Original-URL",
    "X-Rewrite-URL",
    "X-HTTP-Method-Override",
  ];
  for (const name of spoofed) {
    it(`strips ${name} and reports it`, () => {
      const r = accept(raw("GET", "/", H("example.com", [name, "admin"], ["Accept", "*/*"])), { trustForwarded: true });
      assert.equal(r.headers[name.toLowerCase()], undefined);
      assert.deepEqual(r.stripped, [name.toLowerCase()]);
      assert.equal(r.headers["accept"], "*/*");
    });
  }
  const forwarding = ["X-Forwarded-For", "X-Forwarded-Host", "X-Forwarded-Proto", "X-Forwarded-Port", "X-Forwarded-Prefix", "Forwarded", "X-Real-IP", "True-Client-IP"];
  for (const name of forwarding) {
    it(`strips ${name} unless trustForwarded`, () => {
      const r = raw("GET", "/", H("example.com", [name, "1.2.3.4"]));
      assert.deepEqual(accept(r).stripped, [name.toLowerCase()]);
      const trusted = accept(r, { trustForwarded: true });
      assert.deepEqual(trusted.stripped, []);
      assert.equal(trusted.headers[name.toLowerCase()], "1.2.3.4");
    });
  }
  it("strips an underscore variant of a forwarding header even when forwarding is trusted", () => {
    assert.deepEqual(accept(raw("GET", "/", H("example.com", ["X_Forwarded_For", "1.2.3.4"])), { trustForwarded: true }).stripped, ["x_forwarded_for"]);
  });
  it("keeps ordinary headers, reports each stripped name once", () => {
    const r = accept(
      raw("GET", "/", H("example.com", ["X-Tenet-User", "a"], ["x-tenet-user", "b"], ["User-Agent", "t"], ["Authorization", "Bearer t"], ["Cookie", "a=1"], ["Cookie", "b=2"], ["Accept", "a"], ["Accept", "b"])),
    );
    assert.deepEqual(r.stripped, ["x-tenet-user"]);
    assert.deepEqual(r.headers, { host: "example.com", "user-agent": "t", authorization: "Bearer t", cookie: "a=1; b=2", accept: ["a", "b"] });
  });
  it("custom prefixes replace the defaults", () => {
    const r = accept(raw("GET", "/", H("example.com", ["X-Corp-Id", "1"], ["X-Tenet-User", "a"])), { identityHeaderPrefixes: ["X-Corp-"] });
    assert.deepEqual(r.stripped, ["x-corp-id"]);
    assert.equal(r.headers["x-tenet-user"], "a");
  });
});

describe("header sizes and syntax (RFC 6585 §5, RFC 9110 §5.5)", () => {
  it("refuses total header bytes over the limit with 431", () => {
    const rej = refuse(raw("GET", "/", H("example.com", ["X-Big", "a".repeat(16 * 1024)])));
    assert.deepEqual([rej.status, rej.code], [431, "header_too_large"]);
    assert.equal(refuse(raw("GET", "/", H("example.com", ["X-A", "a".repeat(100)])), { maxHeaderBytes: 100 }).status, 431);
    accept(raw("GET", "/", H("example.com", ["X-Big", "a".repeat(16 * 1024 - 100)])));
  });
  it("refuses more than 100 header lines with 431", () => {
    const many: [string, string][] = Array.from({ length: 100 }, (_, i) => [`X-H${i}`, "v"]);
    const rej = refuse(raw("GET", "/", H("example.com", ...many)));
    assert.deepEqual([rej.status, rej.code], [431, "too_many_headers"]);
    accept(raw("GET", "/", H("example.com", ...many.slice(1))));
    assert.equal(refuse(raw("GET", "/", H("example.com", ["A", "1"])), { maxHeaderCount: 1 }).code, "too_many_headers");
  });
  it("checks sizes before anything else (an oversized, otherwise-bad request is 431)", () => {
    assert.equal(refuse(raw("GET", "/%2e%2e/", [["Host", "a@b"], ["X-Big", "a".repeat(20000)]])).status, 431);
  });
  const bad: [string, string, string][] = [
    ["X-A", "a\r\nX-Tenet-User: admin", "bad_header"],
    ["X-A", "a\nb", "bad_header"],
    ["X-A", "a\u0000b", "bad_header"],
    ["X A", "1", "bad_header"],
    ["X-A:", "1", "bad_header"],
    ["", "1", "bad_header"],
    ["X-\u00e9", "1", "bad_header"],
  ];
  for (const [name, value, code] of bad) {
    it(`refuses header ${JSON.stringify(name)}: ${JSON.stringify(value)}`, () => assert.equal(refuse(raw("GET", "/", H("example.com", [name, value]))).code, code));
  }
  it("accepts a tab inside a value", () => assert.equal(accept(raw("GET", "/", H("example.com", ["X-A", "a\tb"]))).headers["x-a"], "a\tb"));
  it("refuses duplicate Authorization and Content-Type", () => {
    assert.equal(refuse(raw("GET", "/", H("example.com", ["Authorization", "a"], ["authorization", "b"]))).code, "duplicate_header");
    assert.equal(refuse(raw("POST", "/", H("example.com", ["Content-Type", "a/b"], ["Content-Type", "c/d"]))).code, "duplicate_header");
  });
  it("refuses odd-length rawHeaders", () => {
    assert.equal(refuse({ method: "GET", url: "/", headers: {}, rawHeaders: ["Host"] }).code, "bad_header");
  });
});

describe("method (RFC 9110 §9)", () => {
  for (const m of ["GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "PROPFIND", "M-SEARCH"]) {
    it(`accepts ${m}`, () => assert.equal(accept(raw(m, "/")).method, m));
  }
  const refused: [string, number, string][] = [
    ["TRACE", 405, "method_not_allowed"],
    ["TRACK", 405, "method_not_allowed"],
    ["CONNECT", 405, "method_not_allowed"],
    ["get", 501, "unsupported_method"],
    ["Get", 501, "unsupported_method"],
    ["", 400, "bad_method"],
    ["GE T", 400, "bad_method"],
    ["GET\r\n", 400, "bad_method"],
    ["G(ET", 400, "bad_method"],
    ["A".repeat(33), 400, "bad_method"],
  ];
  for (const [m, status, code] of refused) {
    it(`refuses ${JSON.stringify(m)} with ${status}`, () => assert.deepEqual(Object.values(refuse(raw(m, "/"))).slice(0, 2), [status, code]));
  }
  it("refuses unsupported HTTP versions with 505", () => {
    assert.deepEqual(refuse(raw("GET", "/", H("example.com"), "2.0")).status, 505);
    assert.deepEqual(refuse(raw("GET", "/", H("example.com"), "0.9")).status, 505);
  });
});
