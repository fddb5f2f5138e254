/**
 * Test parts for the Shared Signals suites: a real RFC 8935 receiver (a node:http server that
 * verifies each SET against the transmitter's JWKS with jose and answers 202, or 400 with the RFC
 * 8935 error JSON), and a fixture with a SQLite datastore, a master key, an ES256 signer, the
 * receiver registry, the identity bus and a transmitter with short delays.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { createServer, type IncomingHttpHeaders } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createLocalJWKSet, decodeProtectedHeader, errors, type JSONWebKeySet, type JWTPayload, jwtVerify } from "jose";
import { MasterKey } from "../../../src/crypto/master-key.js";
import { IdentityEvents } from "../../../src/identity/events.js";
import { ReceiverRegistry } from "../../../src/identity/signals/receivers.js";
import { es256Signer, type SetSigner } from "../../../src/identity/signals/set.js";
import { Transmitter, type TransmitterOptions } from "../../../src/identity/signals/transmitter.js";
import type { Datastore } from "../../../src/storage/interfaces.js";
import { openDatastore } from "../../../src/storage/open.js";

export const ISSUER = "https://tenet.test";

export interface ReceivedSet {
  headers: IncomingHttpHeaders;
  token: string;
  claims: JWTPayload & { sub_id?: Record<string, unknown>; events?: Record<string, Record<string, unknown>>; txn?: string };
  protectedHeader: Record<string, unknown>;
}

export interface TestReceiver {
  url: string;
  /** SETs that verified (and were acknowledged with 202). */
  got: ReceivedSet[];
  /** Every request, verified or not. */
  requests: Array<{ headers: IncomingHttpHeaders; body: string; status: number }>;
  /** Statuses to answer (without looking at the SET) before verifying again; `always` answers it forever. */
  fail: { next: number[]; always?: number | undefined; hang?: boolean };
  close(): Promise<void>;
}

/**
 * A receiver that checks what RFC 8935 §2 and SSF 1.0 §4.1 ask a receiver to check: the media
 * type, its own authorization header, the signature with the transmitter's keys, `typ`
 * `secevent+jwt`, `iss`, `aud`, no `sub` and no `exp`.
 */
export async function startReceiver(opts: { jwks: JSONWebKeySet; issuer?: string; audience: string | (() => string); authorization?: string; path?: string }): Promise<TestReceiver> {
  const keys = createLocalJWKSet(opts.jwks);
  const got: ReceivedSet[] = [];
  const requests: TestReceiver["requests"] = [];
  const fail: TestReceiver["fail"] = { next: [] };
  const server = createServer((req, res) => {
    let body = "";
    req.setEncoding("utf8");
    req.on("data", (c: string) => (body += c));
    req.on("end", () => {
      void (async () => {
        const answer = (status: number, json?: { err: string; description: string }) => {
          requests.push({ headers: req.headers, body, status });
          res.statusCode = status;
          if (json) res.setHeader("content-type", "application/json");
          res.end(json ? JSON.stringify(json) : undefined);
        };
        if (fail.hang) return; // never answers: the transmitter's timeout must end the attempt
        const scripted = fail.next.shift() ?? fail.always;
        if (scripted !== undefined) return answer(scripted);
        if (opts.authorization !== undefined && req.headers.authorization !== opts.authorization) {
          return answer(400, { err: "authentication_failed", description: "wrong or missing authorization header" });
        }
        if (req.method !== "POST" || req.headers["content-type"] !== "application/secevent+jwt") {
          return answer(400, { err: "invalid_request", description: "expected POST application/secevent+jwt" });
        }
        const audience = typeof opts.audience === "function" ? opts.audience() : opts.audience;
        try {
          const { payload, protectedHeader } = await jwtVerify(body, keys, { typ: "secevent+jwt", issuer: opts.issuer ?? ISSUER, audience });
          if ("sub" in payload || "exp" in payload) return answer(400, { err: "invalid_request", description: "sub or exp in a SET" });
          got.push({ headers: req.headers, token: body, claims: payload as ReceivedSet["claims"], protectedHeader: protectedHeader as Record<string, unknown> });
          answer(202);
        } catch (err) {
          const e = err as { code?: string; claim?: string };
          const code =
            err instanceof errors.JWKSNoMatchingKey ? "invalid_key" : e.claim === "aud" ? "invalid_audience" : e.claim === "iss" ? "invalid_issuer" : "invalid_request";
          answer(400, { err: code, description: `${e.code ?? "error"} ${decodeSafe(body)}` });
        }
      })();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}${opts.path ?? "/events"}`,
    got,
    requests,
    fail,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

function decodeSafe(token: string): string {
  try {
    return JSON.stringify(decodeProtectedHeader(token));
  } catch {
    return "(not a JWS)";
  }
}

export interface Fixture {
  dir: string;
  ds: Datastore;
  master: MasterKey;
  signer: SetSigner & { jwks: JSONWebKeySet };
  registry: ReceiverRegistry;
  bus: IdentityEvents;
  transmitter: Transmitter;
  errors: unknown[];
  /** A new transmitter over the same storage (as after a restart). */
  newTransmitter(over?: Partial<TransmitterOptions>): Transmitter;
  /** Closes and reopens the datastore over the same SQLite file. */
  reopen(): Promise<void>;
  close(): Promise<void>;
}

export async function setup(over: Partial<TransmitterOptions> = {}): Promise<Fixture> {
  const dir = mkdtempSync(join(tmpdir(), "tenet-ssf-"));
  const master = MasterKey.generate().key;
  const signer = await es256Signer(ISSUER);
  const errs: unknown[] = [];
  const f = {
    dir,
    master,
    signer,
    errors: errs,
    bus: new IdentityEvents((err) => errs.push(err)),
  } as Fixture;
  const build = async () => {
    f.ds = await openDatastore({ dataDir: dir });
    f.registry = new ReceiverRegistry({ documents: f.ds, sealer: master, allowInsecure: true });
  };
  f.newTransmitter = (o = {}) =>
    new Transmitter({
      receivers: f.registry,
      documents: f.ds,
      signer,
      events: f.bus,
      timeoutMs: 2000,
      maxAttempts: 3,
      baseDelayMs: 20,
      maxDelayMs: 100,
      intervalMs: 10,
      onError: (err) => errs.push(err),
      ...over,
      ...o,
    });
  f.reopen = async () => {
    await f.ds.close();
    await build();
  };
  f.close = async () => {
    await f.transmitter.stop();
    await f.ds.close();
    rmSync(dir, { recursive: true, force: true });
  };
  await build();
  f.transmitter = f.newTransmitter();
  return f;
}

/** Waits until `cond()` holds (polling), or fails after `ms`. */
export async function until(cond: () => boolean | Promise<boolean>, ms = 5000, what = "condition"): Promise<void> {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
