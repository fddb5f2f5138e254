/**
 * `tenet device enroll|report`: the reference device agent.
 *
 * `enroll` generates the device key (ES256 by default; the private key never leaves this host),
 * enrols its public half for the signed-in user (`--token`, or TENET_TOKEN: the user's access
 * token; an admin may enrol for a user with `--user`), and keeps the key in a state file readable
 * only by its owner (0600, like an SSH key).
 * `report` looks at the host (src/identity/devices/collect.ts), signs the posture with the device
 * key and sends it; it prints what it collected and the server's verdict. Run it from cron or a
 * systemd timer more often than the server's posture max age (24 h by default).
 */
import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, statSync, writeFileSync } from "node:fs";
import { homedir, hostname } from "node:os";
import { dirname, join } from "node:path";
import { exportJWK, generateKeyPair, type JWK } from "jose";
import { z } from "zod";
import { collectPosture } from "../../identity/devices/collect.js";
import type { Posture } from "../../identity/devices/posture.js";
import { signPostureReport } from "../../identity/devices/signature.js";
import type { Io } from "../main.js";
import { flagValue, hasFlag } from "./flags.js";

const USAGE = `usage:
  tenet device enroll --server URL [--token T] [--name N] [--user ID] [--alg ES256|EdDSA] [--state FILE] [--force]
  tenet device report [--server URL] [--state FILE] [--managed] [--dry-run]

  --token   the signed-in user's bearer token (default: TENET_TOKEN; without one, you sign in
            in a browser with the code the command prints)
  --state   where the device key is kept (default: ~/.config/tenet/device.json, mode 0600)
  --managed report the device as managed (default: unknown)
  --dry-run print the posture that would be reported, and send nothing
`;

const stateSchema = z.object({
  version: z.literal(1),
  server: z.string().url(),
  deviceId: z.string().min(1),
  userId: z.string().min(1),
  name: z.string(),
  alg: z.enum(["ES256", "EdDSA"]),
  privateKey: z.record(z.string(), z.unknown()),
  enrolledAt: z.string(),
});
type DeviceState = z.infer<typeof stateSchema>;

export function defaultStatePath(env: NodeJS.ProcessEnv = process.env): string {
  const base = env.XDG_CONFIG_HOME && env.XDG_CONFIG_HOME !== "" ? env.XDG_CONFIG_HOME : join(homedir(), ".config");
  return join(base, "tenet", "device.json");
}

function serverUrl(value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  try {
    const u = new URL(value);
    if (u.protocol !== "https:" && u.protocol !== "http:") return undefined;
    return u.href.replace(/\/+$/, "");
  } catch {
    return undefined;
  }
}

/** One JSON request; the server's `{ code, message }` becomes the thrown message. */
async function send(url: string, body: unknown, token?: string): Promise<{ status: number; json: Record<string, unknown> }> {
  const headers: Record<string, string> = { "content-type": "application/json" };
  if (token) headers.authorization = `Bearer ${token}`;
  let res: Response;
  try {
    res = await fetch(url, { method: "POST", headers, body: JSON.stringify(body), signal: AbortSignal.timeout(15_000) });
  } catch (err) {
    throw new Error(`cannot reach ${new URL(url).origin}: ${(err as Error).message}`);
  }
  const text = await res.text();
  let json: Record<string, unknown> = {};
  try {
    json = text === "" ? {} : (JSON.parse(text) as Record<string, unknown>);
  } catch {
    // Not JSON: reported below by status.
  }
  if (res.status >= 300) {
    const what = typeof json.message === "string" ? `${String(json.code ?? res.status)}: ${json.message}` : `HTTP ${res.status}`;
    throw new Error(`the server refused: ${what}`);
  }
  return { status: res.status, json };
}

function printPosture(io: Io, p: Posture): void {
  io.out(`${JSON.stringify(p, null, 2)}\n`);
}

/** Reads the state file, refusing one that others can read (it holds the private key). */
function loadState(path: string): DeviceState {
  if (!existsSync(path)) throw new Error(`no device state at ${path}: run 'tenet device enroll' first`);
  if (process.platform !== "win32" && (statSync(path).mode & 0o077) !== 0) {
    throw new Error(`${path} is accessible by other users and holds the device's private key: run 'chmod 600 ${path}'`);
  }
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(path, "utf8"));
  } catch {
    throw new Error(`${path} is not a device state file (not JSON)`);
  }
  const r = stateSchema.safeParse(raw);
  if (!r.success) throw new Error(`${path} is not a device state file: ${r.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; ")}`);
  return r.data;
}

/** Writes the state owner-only, atomically (a temporary file renamed over the target). */
function saveState(path: string, state: DeviceState): void {
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, `${JSON.stringify(state, null, 2)}\n`, { mode: 0o600, flag: "wx" });
  chmodSync(tmp, 0o600);
  renameSync(tmp, path);
}

async function enroll(args: string[], io: Io): Promise<number> {
  const server = serverUrl(flagValue(args, "--server"));
  const token = flagValue(args, "--token") ?? process.env.TENET_TOKEN;
  const name = flagValue(args, "--name") ?? hostname();
  const user = flagValue(args, "--user");
  const alg = flagValue(args, "--alg") ?? "ES256";
  const path = flagValue(args, "--state") ?? defaultStatePath();
  if (!server || (alg !== "ES256" && alg !== "EdDSA")) {
    io.err(!server ? `--server must be an http(s) URL\n${USAGE}` : `--alg must be ES256 or EdDSA\n`);
    return 2;
  }
  if (existsSync(path) && !hasFlag(args, "--force")) {
    io.err(`${path} already holds an enrolled device key; remove the device first, or pass --force to replace it\n`);
    return 1;
  }
  // Fail before enrolling if the state cannot be kept: a device whose key is lost cannot report.
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  // No token: the person signs in through a browser (RFC 8628 device authorization grant).
  const bearer = token ?? (await browserSignIn(server, io));
  const { publicKey, privateKey } = await generateKeyPair(alg, { extractable: true });
  const publicJwk = await exportJWK(publicKey);
  const { json } = await send(`${server}/identity/devices`, { name, publicKey: publicJwk, platform: process.platform, ...(user ? { userId: user } : {}) }, bearer);
  if (typeof json.id !== "string" || typeof json.userId !== "string") throw new Error("the server's answer has no device id");
  const state: DeviceState = {
    version: 1,
    server,
    deviceId: json.id,
    userId: json.userId,
    name,
    alg,
    privateKey: (await exportJWK(privateKey)) as Record<string, unknown>,
    enrolledAt: typeof json.enrolledAt === "string" ? json.enrolledAt : new Date().toISOString(),
  };
  saveState(path, state);
  io.out(`enrolled device ${state.deviceId} ('${name}') for user ${state.userId}\n`);
  io.err(`device key kept in ${path} (mode 0600); run 'tenet device report' to send its posture\n`);
  return 0;
}

async function report(args: string[], io: Io): Promise<number> {
  const managed = hasFlag(args, "--managed");
  if (hasFlag(args, "--dry-run")) {
    printPosture(io, await collectPosture({ managed }));
    return 0;
  }
  const path = flagValue(args, "--state") ?? defaultStatePath();
  const given = flagValue(args, "--server");
  const override = serverUrl(given);
  if (given !== undefined && !override) {
    io.err(`--server must be an http(s) URL\n${USAGE}`);
    return 2;
  }
  const state = loadState(path);
  const server = override ?? state.server;
  const posture = await collectPosture({ managed });
  printPosture(io, posture);
  const jws = await signPostureReport(state.privateKey as JWK, { deviceId: state.deviceId, alg: state.alg, posture });
  const { json } = await send(`${server}/identity/devices/${encodeURIComponent(state.deviceId)}/posture`, { report: jws });
  const reasons = Array.isArray(json.reasons) ? json.reasons.map(String) : [];
  if (json.compliant === true) io.out(`device ${state.deviceId}: compliant\n`);
  else io.out(`device ${state.deviceId}: not compliant\n${reasons.map((r) => `  - ${r}\n`).join("")}`);
  return 0;
}

export async function deviceCommand(args: string[], io: Io): Promise<number> {
  const [sub] = args;
  if (sub !== "enroll" && sub !== "report") {
    io.err(USAGE);
    return sub === "help" || sub === "--help" ? 0 : 2;
  }
  try {
    return sub === "enroll" ? await enroll(args, io) : await report(args, io);
  } catch (err) {
    // Network, file and server errors: a message that says what to fix, no stack trace.
    if (!(err instanceof Error)) throw err;
    io.err(`tenet device ${sub}: ${err.message}\n`);
    return 1;
  }
}

/**
 * Signs the person in with the device authorization grant (RFC 8628) as Tenet's command-line
 * client: prints where to go and the code, then polls the token endpoint at the interval the
 * server asks for until the person has signed in (or refused, or the code expired).
 */
export async function browserSignIn(server: string, io: Io, clientId = "tenet-cli"): Promise<string> {
  const form = (body: Record<string, string>) => ({ method: "POST", headers: { "content-type": "application/x-www-form-urlencoded" }, body: new URLSearchParams(body).toString(), signal: AbortSignal.timeout(15_000) });
  const start = await fetch(`${server}/oidc/device/auth`, form({ client_id: clientId, scope: "openid" }));
  const d = (await start.json()) as { device_code?: string; user_code?: string; verification_uri?: string; verification_uri_complete?: string; interval?: number; expires_in?: number; error?: string; error_description?: string };
  if (!start.ok || !d.device_code) throw new Error(`cannot start a sign-in: ${d.error ?? start.status} ${d.error_description ?? ""}`.trim());
  io.err(`To authorise this device, open\n\n  ${d.verification_uri_complete ?? d.verification_uri}\n\nin a browser and sign in (code ${d.user_code}). Waiting…\n`);
  let interval = Math.max(1, d.interval ?? 5) * 1000;
  const deadline = Date.now() + Math.max(30, d.expires_in ?? 600) * 1000;
  while (Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, interval));
    const res = await fetch(`${server}/oidc/token`, form({ grant_type: "urn:ietf:params:oauth:grant-type:device_code", device_code: d.device_code, client_id: clientId }));
    const t = (await res.json()) as { access_token?: string; error?: string; error_description?: string };
    if (res.ok && t.access_token) return t.access_token;
    if (t.error === "authorization_pending") continue;
    if (t.error === "slow_down") {
      interval += 5000;
      continue;
    }
    throw new Error(`sign-in ${t.error === "access_denied" ? "refused" : "failed"}: ${t.error ?? res.status} ${t.error_description ?? ""}`.trim());
  }
  throw new Error("the sign-in code expired; run the command again");
}
