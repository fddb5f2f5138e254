/**
 * ext_authz believes X-Forwarded-For (the client's address, which network-zone rules and risk
 * see) only from trusted peers (Envoy). A client reaching the check endpoint itself cannot choose
 * the address its request is decided with.
 */
import assert from "node:assert/strict";
import { generateKeyPairSync } from "node:crypto";
import { createServer, request, type Server } from "node:http";
import { after, describe, test } from "node:test";
import { signEs256 } from "../../src/crypto/compact-jws.js";
import { MasterKey } from "../../src/crypto/master-key.js";
import { AssertionIssuer } from "../../src/enforcement/assertion.js";
import { Enforcer } from "../../src/enforcement/enforcer.js";
import { ExtAuthz } from "../../src/enforcement/ext-authz.js";
import { ProxySignIn } from "../../src/enforcement/proxy/signin.js";
import { parseRoutes, RouteTable } from "../../src/enforcement/routes.js";
import { SessionCookies } from "../../src/enforcement/session-cookie.js";
import { DEFAULT_TRUSTED_PEERS, TrustedPeers } from "../../src/enforcement/trusted-peers.js";
import { parseAccessConfig } from "../../src/config/access-config.js";
import { TenetError } from "../../src/errors.js";
import type { AccessRequest } from "../../src/policy/access/types.js";

describe("TrustedPeers", () => {
  test("loopback by default; configured ranges, IPv4-mapped IPv6 included", () => {
    const d = new TrustedPeers();
    assert.deepEqual(["127.0.0.1", "127.9.9.9", "::1", "::ffff:127.0.0.1", "10.0.0.1", "::2", "", "junk"].map((a) => d.trusts(a)), [true, true, true, true, false, false, false, false]);
    const p = new TrustedPeers(["10.1.0.0/16", "fd00::/8"]);
    assert.deepEqual(["10.1.2.3", "10.2.0.1", "fd12::1", "fe80::1", "127.0.0.1"].map((a) => p.trusts(a)), [true, false, true, false, false]);
    assert.equal(new TrustedPeers([]).trusts("127.0.0.1"), false);
  });

  test("a bad range is refused, in code and in the access configuration", () => {
    assert.throws(() => new TrustedPeers(["10.0.0.0/33"]), TenetError);
    assert.throws(() => parseAccessConfig({ proxy: { extAuthz: { trustedPeers: ["not-an-ip"] } } }), /proxy\.extAuthz\.trustedPeers/);
    assert.deepEqual(parseAccessConfig({}).proxy.extAuthzTrustedPeers, DEFAULT_TRUSTED_PEERS);
    assert.deepEqual(parseAccessConfig({ proxy: { extAuthz: { trustedPeers: ["10.0.0.0/8"] } } }).proxy.extAuthzTrustedPeers, ["10.0.0.0/8"]);
  });
});

describe("ext_authz and X-Forwarded-For", () => {
  const seen: AccessRequest[] = [];
  const servers: Server[] = [];

  async function start(trusted: string[]): Promise<string> {
    const master = MasterKey.generate().key;
    const { privateKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
    const routes = new RouteTable(parseRoutes([{ id: "wiki", from: { host: "wiki.example.com" }, to: "http://127.0.0.1:9", resource: { type: "app", id: "wiki" }, storeId: "s1" }]));
    const ext = new ExtAuthz({
      routes,
      // The decision point's stand-in records what it was asked and allows.
      enforcer: new Enforcer({ decide: async (_s, req) => (seen.push(req), { decision: "allow", decision_id: "01JABCDEFGHJKMNPQRSTVWXYZ0", time: "", store_id: "s1", rules: [], obligations: [], relationships: [], risk: { score: 0, level: "low", reasons: [] }, reasons: [] }) }),
      identityOf: async (token) => (token === "good-token-0123456789" ? { userId: "ana", groups: [] } : undefined),
      assertions: new AssertionIssuer({ issuer: "https://tenet.example.com", sign: (p, h) => signEs256(h, p, privateKey) }),
      cookies: new SessionCookies(master, { secure: true }),
      signIn: new ProxySignIn({ issuer: "https://tenet.example.com/oidc", clientId: "x", clientSecret: "y", master }),
      scheme: "https",
      trustedPeers: new TrustedPeers(trusted),
    });
    const srv = createServer((req, res) => void ext.handle(req, res));
    servers.push(srv);
    await new Promise<void>((r) => srv.listen(0, "127.0.0.1", r));
    const a = srv.address();
    return `127.0.0.1:${typeof a === "object" && a ? a.port : 0}`;
  }

  function check(addr: string): Promise<number> {
    const [host, port] = addr.split(":");
    return new Promise((resolve, reject) => {
      request({ host, port, path: "/.tenet/ext_authz/docs", headers: { host: "wiki.example.com", authorization: "Bearer good-token-0123456789", "x-forwarded-for": "203.0.113.7, 10.0.0.1" } }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      })
        .on("error", reject)
        .end();
    });
  }

  after(() => {
    for (const s of servers) s.close();
  });

  test("from a trusted peer (Envoy on loopback): the first X-Forwarded-For address is the client's", async () => {
    assert.equal(await check(await start(DEFAULT_TRUSTED_PEERS)), 200);
    assert.equal(seen.at(-1)?.request?.ip, "203.0.113.7");
  });

  test("from anyone else: X-Forwarded-For is ignored and the socket's address is the client's", async () => {
    assert.equal(await check(await start(["10.0.0.0/8"])), 200);
    assert.equal(seen.at(-1)?.request?.ip, "127.0.0.1");
  });
});
