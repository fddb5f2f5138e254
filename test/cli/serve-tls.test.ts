/**
 * `tenet serve` terminating TLS with a given certificate (TENET_TLS_CERT_FILE, TENET_TLS_KEY_FILE),
 * run as users run it: the real binary, certificates made with the openssl CLI at test time (a CA
 * and leaf certificates it signs; no key is ever committed), clients that verify against that CA.
 * Covered: HTTPS works and plain HTTP does not, the identity provider's issuer is https, start
 * errors are one clear line without a stack or key material, and a replaced certificate is served
 * without a restart while a broken replacement keeps the previous one.
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { readFileSync, renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { connect } from "node:tls";
import { after, before, describe, test } from "node:test";
import { Agent, request } from "undici";
import { STACK_FRAME, type Server, cleanup, lines, serve, tempDir, tenet } from "./cli-helpers.js";

after(cleanup);

interface Leaf {
  cert: string;
  key: string;
  /** Uppercase hex, as tls' getPeerCertificate() reports it. */
  serial: string;
  cn: string;
}

const openssl = (dir: string, args: string[]) => execFileSync("openssl", args, { cwd: dir, stdio: ["ignore", "pipe", "pipe"] }).toString();

/** A CA (its certificate trusted by the tests' clients) and leaves for localhost / 127.0.0.1. */
function makeCa(dir: string): { ca: string; leaf: (cn: string) => Leaf } {
  openssl(dir, ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", "ca.key", "-out", "ca.pem", "-days", "2", "-subj", "/CN=Tenet Test CA",
    "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign"]);
  writeFileSync(join(dir, "leaf.ext"), "subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n");
  let n = 0;
  return {
    ca: readFileSync(join(dir, "ca.pem"), "utf8"),
    leaf: (cn) => {
      const base = join(dir, `leaf-${++n}`);
      openssl(dir, ["req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", `${base}.key`, "-out", `${base}.csr`, "-subj", `/CN=${cn}`]);
      openssl(dir, ["x509", "-req", "-in", `${base}.csr`, "-CA", "ca.pem", "-CAkey", "ca.key", "-set_serial", `0x${(0x1000 + n).toString(16)}`, "-days", "2", "-extfile", "leaf.ext", "-out", `${base}.pem`]);
      return { cert: `${base}.pem`, key: `${base}.key`, serial: (0x1000 + n).toString(16).toUpperCase(), cn };
    },
  };
}

/** The base64 lines of a PEM key: none may ever appear in output. */
const keyLines = (file: string) => readFileSync(file, "utf8").split("\n").filter((l) => l.trim() !== "" && !l.startsWith("-----"));

function assertNoKeyMaterial(output: string, ...keyFiles: string[]): void {
  assert.doesNotMatch(output, /-----BEGIN/, "PEM text in the output");
  for (const f of keyFiles) for (const l of keyLines(f)) assert.ok(!output.includes(l), `key material of ${f} in the output:\n${output}`);
}

/** The certificate the server presents (serial and subject CN), verified against the CA. */
function servedCertificate(url: string, ca: string): Promise<{ serial: string; cn: string }> {
  const u = new URL(url);
  return new Promise((resolve, reject) => {
    const s = connect({ host: u.hostname, port: Number(u.port), ca, servername: "localhost" }, () => {
      const c = s.getPeerCertificate();
      s.end();
      resolve({ serial: c.serialNumber.replace(/^0+/, ""), cn: String(c.subject.CN) });
    });
    s.once("error", reject);
  });
}

/** Sends `bytes` over a verified TLS connection and returns all the server answers. */
function rawOverTls(url: string, ca: string, bytes: string): Promise<string> {
  const u = new URL(url);
  return new Promise((resolve, reject) => {
    let got = "";
    const s = connect({ host: u.hostname, port: Number(u.port), ca, servername: "localhost" }, () => s.write(bytes));
    s.on("data", (d: Buffer) => (got += d.toString()));
    s.once("close", () => resolve(got));
    s.once("error", reject);
    s.setTimeout(5000, () => s.destroy(new Error(`no answer; got: ${got}`)));
  });
}

async function get(url: string, ca: string): Promise<{ status: number; json: Record<string, unknown> }> {
  const dispatcher = new Agent({ connect: { ca } });
  try {
    const res = await request(url, { dispatcher });
    return { status: res.statusCode, json: (await res.body.json()) as Record<string, unknown> };
  } finally {
    await dispatcher.close();
  }
}

/** serve() with ready:false, then the readiness wait cli-helpers does over plain HTTP, over HTTPS. */
async function serveTls(env: NodeJS.ProcessEnv, ca: string): Promise<Server> {
  const srv = await serve({ TENET_DATA_DIR: tempDir(), ...env }, ["--port", "0"], 30_000, { ready: false });
  try {
    assert.equal((await get(`${srv.url}/healthz`, ca)).status, 200);
  } catch (err) {
    await srv.stop("SIGKILL");
    throw err;
  }
  return srv;
}

/** Everything the server wrote (its log goes to stdout, start warnings to stderr). */
const logs = (srv: Server) => srv.stdout() + srv.stderr();

async function until(what: string, ms: number, check: () => Promise<boolean>): Promise<number> {
  const t0 = Date.now();
  for (;;) {
    if (await check()) return Date.now() - t0;
    if (Date.now() - t0 > ms) assert.fail(`${what} did not happen within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

let dir = "";
let pki: ReturnType<typeof makeCa>;
let first: Leaf;
let second: Leaf;
before(() => {
  dir = tempDir("tenet-tls-");
  pki = makeCa(dir);
  first = pki.leaf("localhost");
  second = pki.leaf("localhost-renewed");
});

describe("tenet serve with TENET_TLS_CERT_FILE and TENET_TLS_KEY_FILE", () => {
  test("serves HTTPS (verified against the CA), not plain HTTP; the identity provider's issuer is https://localhost:<port>/oidc", async () => {
    const srv = await serveTls({ TENET_TLS_CERT_FILE: first.cert, TENET_TLS_KEY_FILE: first.key }, pki.ca);
    try {
      assert.match(srv.url, /^https:\/\/127\.0\.0\.1:\d+$/);
      const port = new URL(srv.url).port;
      assert.match(srv.stdout(), new RegExp(`identity provider https://localhost:${port}/oidc`));
      assert.deepEqual(await servedCertificate(srv.url, pki.ca), { serial: first.serial, cn: "localhost" });
      // Without the CA the certificate is not trusted: the verification above is real.
      await assert.rejects(request(`${srv.url}/healthz`), /self[- ]signed|unable to verify|certificate/i);
      // Plain HTTP to the same port gets no HTTP answer.
      await assert.rejects(request(`http://127.0.0.1:${port}/healthz`, { headersTimeout: 5000, bodyTimeout: 5000 }));
      // Malformed HTTP inside TLS gets the API's error shape, as over plain HTTP.
      const raw = await rawOverTls(srv.url, pki.ca, "NOT HTTP AT ALL\r\n\r\n");
      assert.match(raw, /^HTTP\/1\.1 400 /);
      assert.match(raw, /"code":"bad_request"/);
      const discovery = await get(`${srv.url}/oidc/.well-known/openid-configuration`, pki.ca);
      assert.equal(discovery.status, 200, JSON.stringify(discovery.json));
      assert.equal(discovery.json.issuer, `https://localhost:${port}/oidc`);
      // The provider sees the connection as secure (endpoints take the request's host, but https).
      assert.match(String(discovery.json.authorization_endpoint), /^https:\/\//);
      assertNoKeyMaterial(srv.stdout() + srv.stderr(), first.key);
    } finally {
      assert.equal((await srv.stop()).code, 0, srv.stderr());
    }
  });

  test("a replaced certificate is served without a restart; a broken replacement keeps the previous one and is reported", async () => {
    const live = tempDir("tenet-tls-live-");
    const cert = join(live, "fullchain.pem");
    const key = join(live, "privkey.pem");
    writeFileSync(cert, readFileSync(first.cert));
    writeFileSync(key, readFileSync(first.key), { mode: 0o600 });
    const srv = await serveTls({ TENET_TLS_CERT_FILE: cert, TENET_TLS_KEY_FILE: key, TENET_TLS_RELOAD_MS: "200" }, pki.ca);
    try {
      assert.equal((await servedCertificate(srv.url, pki.ca)).serial, first.serial);
      // Renewal as certbot does it: new files swapped in, the certificate a moment before its key.
      const swap = (from: string, to: string) => {
        writeFileSync(`${to}.new`, readFileSync(from));
        renameSync(`${to}.new`, to);
      };
      swap(second.cert, cert);
      await new Promise((r) => setTimeout(r, 30));
      swap(second.key, key);
      const took = await until("serving the renewed certificate", 5000, async () => (await servedCertificate(srv.url, pki.ca)).serial === second.serial);
      assert.deepEqual(await servedCertificate(srv.url, pki.ca), { serial: second.serial, cn: "localhost-renewed" });
      assert.ok(took < 2000, `the renewal took ${took} ms to be served (poll every 200 ms)`);
      assert.equal((await get(`${srv.url}/healthz`, pki.ca)).status, 200);

      // A broken renewal: the previous certificate stays, the problem is logged (without the key).
      writeFileSync(cert, "this is not a certificate\n");
      await until("the broken renewal being reported", 5000, async () => /still serving the previous certificate/.test(logs(srv)));
      assert.match(logs(srv), /TENET_TLS_CERT_FILE: .*fullchain\.pem holds no PEM certificate/);
      assert.deepEqual(await servedCertificate(srv.url, pki.ca), { serial: second.serial, cn: "localhost-renewed" });
      // A key that does not belong to the certificate: reported, previous kept.
      swap(second.cert, cert);
      swap(first.key, key);
      await until("the mismatched renewal being reported", 5000, async () => /does not belong to the certificate/.test(logs(srv)));
      assert.equal((await servedCertificate(srv.url, pki.ca)).serial, second.serial);
      // Fixed: served again.
      swap(first.cert, cert);
      await until("serving the fixed certificate", 5000, async () => (await servedCertificate(srv.url, pki.ca)).serial === first.serial);
      assertNoKeyMaterial(srv.stdout() + srv.stderr(), first.key, second.key);
    } finally {
      // The poller does not hold the process open: SIGTERM drains and exits 0.
      assert.equal((await srv.stop()).code, 0, srv.stderr());
    }
  });
});

describe("certificates that cannot be used: exit 1 before listening, one clear line, no stack trace, no key material", () => {
  /** Runs `tenet serve` expecting a start failure. */
  async function refused(env: Record<string, string>): Promise<string> {
    const r = await tenet(["serve", "--port", "0"], { env: { TENET_DATA_DIR: join(tempDir(), "data"), ...env }, timeoutMs: 15_000 });
    assert.equal(r.code, 1, `exit code; stdout: ${r.out}; stderr: ${r.err}`);
    assert.equal(r.out, "", "nothing on stdout (not listening)");
    assert.doesNotMatch(r.err, STACK_FRAME);
    assertNoKeyMaterial(r.err, first.key, second.key);
    return r.err;
  }

  test("only TENET_TLS_CERT_FILE: names TENET_TLS_KEY_FILE; only the key: names TENET_TLS_CERT_FILE", async () => {
    const noKey = await refused({ TENET_TLS_CERT_FILE: first.cert });
    assert.match(lines(noKey)[0] ?? "", /^tenet: validation_error: invalid configuration: TENET_TLS_KEY_FILE: must be set/);
    const noCert = await refused({ TENET_TLS_KEY_FILE: first.key });
    assert.match(lines(noCert)[0] ?? "", /^tenet: validation_error: invalid configuration: TENET_TLS_CERT_FILE: must be set/);
  });

  test("TENET_TLS_RELOAD_MS out of range is named", async () => {
    const err = await refused({ TENET_TLS_CERT_FILE: first.cert, TENET_TLS_KEY_FILE: first.key, TENET_TLS_RELOAD_MS: "10" });
    assert.match(lines(err)[0] ?? "", /TENET_TLS_RELOAD_MS/);
  });

  test("a certificate file that does not exist", async () => {
    const missing = join(dir, "nope.pem");
    const err = await refused({ TENET_TLS_CERT_FILE: missing, TENET_TLS_KEY_FILE: first.key });
    assert.equal(lines(err).length, 1, err);
    assert.equal(lines(err)[0], `tenet serve: cannot start: TENET_TLS_CERT_FILE: ${missing} does not exist`);
  });

  test("a garbage certificate, and a damaged one", async () => {
    const garbage = join(dir, "garbage.pem");
    writeFileSync(garbage, "hello, I am not a certificate\n");
    const err = await refused({ TENET_TLS_CERT_FILE: garbage, TENET_TLS_KEY_FILE: first.key });
    assert.match(lines(err)[0] ?? "", /^tenet serve: cannot start: TENET_TLS_CERT_FILE: .*garbage\.pem holds no PEM certificate/);
    const damaged = join(dir, "damaged.pem");
    writeFileSync(damaged, "-----BEGIN CERTIFICATE-----\nAAAAbm90IGEgY2VydGlmaWNhdGU=\n-----END CERTIFICATE-----\n");
    const err2 = await refused({ TENET_TLS_CERT_FILE: damaged, TENET_TLS_KEY_FILE: first.key });
    assert.match(lines(err2)[0] ?? "", /^tenet serve: cannot start: TENET_TLS_CERT_FILE: .*damaged\.pem holds a damaged certificate/);
  });

  test("the two variables swapped: the key file given as the certificate is not echoed", async () => {
    const err = await refused({ TENET_TLS_CERT_FILE: first.key, TENET_TLS_KEY_FILE: first.cert });
    assert.match(lines(err)[0] ?? "", /TENET_TLS_CERT_FILE: .* holds no PEM certificate .*swapped/);
  });

  test("a key that does not belong to the certificate", async () => {
    const err = await refused({ TENET_TLS_CERT_FILE: first.cert, TENET_TLS_KEY_FILE: second.key });
    assert.match(lines(err)[0] ?? "", /^tenet serve: cannot start: TENET_TLS_KEY_FILE: the private key in .* does not belong to the certificate in /);
  });

  test("a passphrase-protected key", async () => {
    const encrypted = join(dir, "encrypted.key");
    openssl(dir, ["pkey", "-in", first.key, "-aes256", "-passout", "pass:Sup3rSecretPass", "-out", encrypted]);
    const err = await refused({ TENET_TLS_CERT_FILE: first.cert, TENET_TLS_KEY_FILE: encrypted });
    assert.match(lines(err)[0] ?? "", /TENET_TLS_KEY_FILE: .*encrypted\.key is encrypted/);
    assertNoKeyMaterial(err, encrypted);
  });
});
