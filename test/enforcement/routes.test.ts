/** Proxy route configuration: validation with field names, and host/prefix matching. */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { parseRoutes, RouteTable } from "../../src/enforcement/routes.js";

const base = { to: "http://127.0.0.1:3000", resource: { type: "app", id: "x" } };

describe("proxy routes", () => {
  it("matches exact hosts by longest prefix on segment boundaries, then wildcards", () => {
    const t = new RouteTable(
      parseRoutes([
        { ...base, id: "root", from: { host: "App.Example.com.", path: "/" } },
        { ...base, id: "admin", from: { host: "app.example.com", path: "/admin/" } },
        { ...base, id: "wild", from: { host: "*.example.com" } },
        { ...base, id: "deep-wild", from: { host: "*.eu.example.com", path: "/api" } },
      ]),
    );
    assert.equal(t.match("app.example.com", "/")?.id, "root");
    assert.equal(t.match("app.example.com", "/admin")?.id, "admin");
    assert.equal(t.match("app.example.com", "/admin/users")?.id, "admin");
    assert.equal(t.match("app.example.com", "/administrator")?.id, "root", "a prefix matches whole segments only");
    assert.equal(t.match("app.example.com:8443", "/admin")?.id, "admin", "a port on the request does not hide the host's routes");
    assert.equal(t.match("other.example.com", "/x")?.id, "wild");
    assert.equal(t.match("a.eu.example.com", "/api/v1")?.id, "deep-wild");
    assert.equal(t.match("a.eu.example.com", "/web")?.id, "wild");
    assert.equal(t.match("example.com", "/"), undefined, "a wildcard does not match the bare domain");
    assert.equal(t.match("evil-example.com", "/"), undefined);
    assert.equal(t.match("example.com.evil.net", "/"), undefined);
  });

  it("refuses bad routes with the field's name", () => {
    const bad = (r: unknown, re: RegExp) => assert.throws(() => parseRoutes([r]), (e: Error & { code?: string }) => e.code === "validation_error" && re.test(e.message));
    bad({ ...base, id: "a", from: { host: "exa mple.com" } }, /proxy\.routes\.0\.from\.host/);
    bad({ ...base, id: "a", from: { host: "a.com", path: "/x/../y" } }, /from\.path/);
    bad({ ...base, id: "a", from: { host: "a.com", path: "/a%2fb" } }, /from\.path/);
    bad({ ...base, id: "a", from: { host: "a.com" }, to: "ftp://x" }, /\.to/);
    bad({ ...base, id: "a", from: { host: "a.com" }, to: "http://user:pw@x" }, /\.to/);
    bad({ ...base, id: "A B", from: { host: "a.com" } }, /\.id/);
    bad({ ...base, id: "a", from: { host: "a.com" }, timeout: "soon" }, /timeout/);
    bad({ ...base, id: "a", from: { host: "a.com" }, unknown: 1 }, /Unrecognized key/);
    assert.throws(() => parseRoutes([{ ...base, id: "a", from: { host: "a.com" } }, { ...base, id: "a", from: { host: "b.com" } }]), /used twice/);
    assert.throws(() => parseRoutes([{ ...base, id: "a", from: { host: "a.com" } }, { ...base, id: "b", from: { host: "A.com" } }]), /two routes/);
  });

  it("fills defaults: deny-by-default decisions, 30 s timeout, no websockets", () => {
    const [r] = parseRoutes([{ ...base, id: "a", from: { host: "a.com" }, maxAge: "15m", acr: "hardware" }]);
    assert.equal(r!.public, false);
    assert.equal(r!.action, "access");
    assert.equal(r!.timeoutMs, 30_000);
    assert.equal(r!.websockets, false);
    assert.equal(r!.maxAgeSeconds, 900);
    assert.equal(r!.pathPrefix, "/");
  });
});
