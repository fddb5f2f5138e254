import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { accept, raw, refuse } from "./normalize-helpers.js";

describe("path normalisation (RFC 3986 §5.2.4, §6.2.2)", () => {
  const accepted: [string, string, string?][] = [
    // [request-target, normalised path, query]
    ["/", "/"],
    ["/a/../b", "/b"],
    ["/a/../b?x=1", "/b", "x=1"],
    ["/a//b", "/a/b"],
    ["//a///b", "/a/b"],
    ["//", "/"],
    ["/A/./B/", "/A/B/"],
    ["/%41", "/A"],
    ["/%7euser/%2D%5f", "/~user/-_"],
    ["/a/b/..", "/a/"],
    ["/a/b/.", "/a/b/"],
    ["/a/.", "/a/"],
    ["/.", "/"],
    ["/./", "/"],
    ["/a/b/../../c", "/c"],
    ["/a/./b/../c//d/", "/a/c/d/"],
    ["/file%2etxt", "/file.txt"], // an encoded dot inside a name is not a dot segment
    ["/..a/b..", "/..a/b.."],
    ["/...", "/..."],
    ["/a%3ab", "/a%3Ab"], // reserved characters stay encoded, hex upper-cased
    ["/a%3Fb", "/a%3Fb"],
    ["/a%20b", "/a%20b"],
    ["/a%25zz", "/a%25zz"], // a literal percent sign that is not followed by hex
    ["/caf%c3%a9", "/caf%C3%A9"], // valid UTF-8 kept encoded
    ["/a:b@c;d=e,f!$&'()*+", "/a:b@c;d=e,f!$&'()*+"],
    ["/a|b{c}^`", "/a%7Cb%7Bc%7D%5E%60"], // raw characters browsers send are canonicalised
    ["/a?", "/a", ""],
    ["/a?b=%2F&c=../..&d=%00", "/a", "b=%2F&c=../..&d=%00"], // query kept as is
    ["/?", "/", ""],
    ["/a;jsessionid=1", "/a;jsessionid=1"],
  ];
  for (const [url, path, query] of accepted) {
    it(`accepts ${JSON.stringify(url)} → ${path}`, () => {
      const r = accept(raw("GET", url));
      assert.equal(r.path, path);
      assert.equal(r.rawPath, url.split("?")[0]);
      assert.equal(r.query, query ?? "");
      assert.equal(r.targetForm, "origin");
    });
  }

  const refused: [string, string, number?][] = [
    // [request-target, why, status]
    ["/%2e%2e/etc/passwd", "encoded dot-dot"],
    ["/%2E%2E/etc/passwd", "upper-case encoded dot-dot"],
    ["/a/.%2e/b", "half-encoded dot-dot"],
    ["/a/%2e./b", "half-encoded dot-dot (other half)"],
    ["/a/%2e/b", "encoded single dot segment"],
    ["/a%2fb", "encoded slash"],
    ["/a%2Fb", "encoded slash upper-case"],
    ["/a%5cb", "encoded backslash"],
    ["/a%5Cb", "encoded backslash upper-case"],
    ["/%252e%252e/", "double-encoded dot-dot"],
    ["/%252f", "double-encoded slash"],
    ["/a%2541", "double-encoded letter"],
    ["/a%25%32%65", "double encoding spelled with encoded hex digits"],
    ["/\\evil", "raw backslash"],
    ["/a\\..\\b", "backslash traversal"],
    ["/a%00b", "encoded NUL"],
    ["/a\u0000b", "raw NUL"],
    ["/a%0d%0aSet-Cookie:x", "encoded CRLF"],
    ["/a%09b", "encoded tab"],
    ["/a%7fb", "encoded DEL"],
    ["/a\tb", "raw tab"],
    ["/a b", "raw space"],
    ["/caf\u00e9", "raw non-ASCII"],
    ["/..", "climb above root"],
    ["/../x", "climb above root"],
    ["/a/../../x", "climb above root after one level"],
    ["/a/..;/admin", "dot-dot with path parameter (Tomcat)"],
    ["/a/.;/admin", "dot with path parameter"],
    ["/a/..%3b/admin", "dot-dot with encoded path parameter"],
    ["/a/..;x=1/admin", "dot-dot with a named path parameter"],
    ["/a%", "truncated percent-encoding"],
    ["/a%2", "truncated percent-encoding"],
    ["/a%zz", "non-hex percent-encoding"],
    ["/a%c0%af", "overlong UTF-8 slash"],
    ["/a%c0%ae%c0%ae/", "overlong UTF-8 dots"],
    ["/a%ff", "invalid UTF-8 byte"],
    ["/a%e2%82", "truncated UTF-8 sequence"],
    ["/a#frag", "fragment"],
    ["/a?b#frag", "fragment after query"],
    ["/a?b c", "space in query"],
    ["/a?b\u0001", "control in query"],
    ["/a?\u00e9", "non-ASCII in query"],
    ["a/b", "relative path"],
    ["", "empty target"],
    ["*", "asterisk-form with GET"],
    ["example.com:443", "authority-form with GET"],
    ["ftp://example.com/", "non-http absolute URI"],
    ["javascript:alert(1)", "not a request-target"],
  ];
  for (const [url, why, status] of refused) {
    it(`refuses ${JSON.stringify(url)} (${why})`, () => {
      const rej = refuse(raw("GET", url));
      assert.equal(rej.status, status ?? 400);
      assert.match(rej.code, /^bad_(path|query|target)$/);
    });
  }

  it("refuses a request-target over the limit with 414", () => {
    const rej = refuse(raw("GET", "/" + "a".repeat(8 * 1024)));
    assert.deepEqual([rej.status, rej.code], [414, "url_too_long"]);
    assert.equal(accept(raw("GET", "/" + "a".repeat(8 * 1024 - 1))).path.length, 8 * 1024);
    assert.equal(refuse(raw("GET", "/abcdef"), { maxUrlLength: 5 }).status, 414);
  });

  it("accepts OPTIONS * (asterisk-form, RFC 9112 §3.2.4)", () => {
    const r = accept(raw("OPTIONS", "*"));
    assert.equal(r.path, "*");
    assert.equal(r.targetForm, "asterisk");
  });

  it("refuses CONNECT (authority-form) with 405", () => {
    const rej = refuse(raw("CONNECT", "example.com:443"));
    assert.deepEqual([rej.status, rej.code], [405, "method_not_allowed"]);
  });

  describe("absolute-form (RFC 9112 §3.2.2)", () => {
    it("takes the host from the URI and normalises the path", () => {
      const r = accept(raw("GET", "http://Example.COM/a/../b?q=1", []));
      assert.deepEqual([r.host, r.path, r.query, r.targetForm], ["example.com", "/b", "q=1", "absolute"]);
      assert.equal(r.headers["host"], "example.com");
    });
    it("empty path is /", () => {
      assert.equal(accept(raw("GET", "https://example.com", [])).path, "/");
      assert.equal(accept(raw("GET", "https://example.com?x", [])).query, "x");
    });
    it("matching Host is fine; the scheme's default port is dropped", () => {
      const r = accept(raw("GET", "HTTPS://example.com:443/x", [["Host", "EXAMPLE.com"]]));
      assert.equal(r.host, "example.com");
    });
    it("Host mismatch is refused", () => {
      assert.equal(refuse(raw("GET", "http://a.example/x", [["Host", "b.example"]])).code, "host_mismatch");
      assert.equal(refuse(raw("GET", "http://a.example:8080/x", [["Host", "a.example"]])).code, "host_mismatch");
    });
    it("userinfo in the URI is refused", () => {
      assert.equal(refuse(raw("GET", "http://user:pw@example.com/", [])).code, "bad_host");
    });
    it("listener scheme mismatch is refused", () => {
      assert.equal(refuse(raw("GET", "http://example.com/", []), { scheme: "https" }).code, "bad_target");
    });
    it("path tricks are refused in absolute-form too", () => {
      assert.equal(refuse(raw("GET", "http://example.com/%2e%2e/x", [])).code, "bad_path");
      assert.equal(refuse(raw("GET", "http://example.com\\@evil.com/", [])).code, "bad_host");
    });
  });
});
