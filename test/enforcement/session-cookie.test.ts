/** The proxy's sealed session cookie: round trip, and every forgery refused without throwing. */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { describe, it } from "node:test";
import { MasterKey } from "../../src/crypto/master-key.js";
import { SessionCookies } from "../../src/enforcement/session-cookie.js";

const master = MasterKey.fromBytes(randomBytes(32));
const now = 1_800_000_000_000;
const session = { accessToken: "at-123", userId: "anne", sessionId: "s1", expiresAt: now / 1000 + 3600, host: "app.example.com" };
const valueOf = (setCookie: string) => setCookie.split(";")[0]!;

describe("proxy session cookie", () => {
  it("round-trips, secure and host-bound, without showing its content", () => {
    const c = new SessionCookies(master, { secure: true, now: () => now });
    const set = c.issue(session);
    assert.match(set, /^__Host-tenet_proxy=[A-Za-z0-9_-]+; Path=\/; HttpOnly; SameSite=Lax; Max-Age=3600; Secure$/);
    assert.ok(!Buffer.from(set.split("=")[1]!.split(";")[0]!, "base64url").toString().includes("at-123"), "the token is sealed");
    assert.deepEqual(c.read(`other=1; ${valueOf(set)}`, "app.example.com"), session);
    assert.equal(c.read(valueOf(set), "evil.example.com"), undefined, "another host");
  });

  it("refuses altered, foreign, expired, duplicated and garbage cookies", () => {
    const c = new SessionCookies(master, { secure: false, now: () => now });
    const v = valueOf(c.issue(session));
    const [name, value] = [v.slice(0, v.indexOf("=")), v.slice(v.indexOf("=") + 1)];
    const flipped = value.slice(0, 40) + (value[40] === "A" ? "B" : "A") + value.slice(41);
    assert.equal(c.read(`${name}=${flipped}`, "app.example.com"), undefined);
    const foreign = valueOf(new SessionCookies(MasterKey.fromBytes(randomBytes(32)), { secure: false, now: () => now }).issue(session));
    assert.equal(c.read(foreign, "app.example.com"), undefined);
    const later = new SessionCookies(master, { secure: false, now: () => now + 3601_000 });
    assert.equal(later.read(v, "app.example.com"), undefined);
    assert.equal(c.read(`${v}; ${v}`, "app.example.com"), undefined, "two cookies of the name");
    for (const junk of ["tenet_proxy=", "tenet_proxy=%%%", "tenet_proxy=eyJ", `tenet_proxy=${"A".repeat(5000)}`, "tenet_proxy=bnVsbA", undefined, ""]) {
      assert.equal(c.read(junk, "app.example.com"), undefined, String(junk).slice(0, 20));
    }
    // A box sealed for another purpose (same master key) does not open here.
    const other = Buffer.from(JSON.stringify(master.seal("tenet/other/v1", Buffer.from(JSON.stringify(session))))).toString("base64url");
    assert.equal(c.read(`tenet_proxy=${other}`, "app.example.com"), undefined);
    assert.match(c.clear(), /^tenet_proxy=; Path=\/; HttpOnly; SameSite=Lax; Max-Age=0$/);
  });
});
