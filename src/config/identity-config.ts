/**
 * The `identity` section of the access configuration: the identity provider's public URL, token
 * and session lifetimes, lockout, hardware authenticators, the directory's tuple store, and
 * upstream identity providers (federation, parsed by its own module).
 *
 *   identity:
 *     publicUrl: https://id.example.com     # default: TENET_PUBLIC_URL, else http://localhost:<port>
 *     sessions: { idle: 2h, absolute: 12h }
 *     tokens: { accessToken: 10m, idToken: 10m, refreshToken: 8h }
 *     lockout: { maxFailures: 10, duration: 30m } # at most 10 failures, at least 30 minutes (PCI DSS 4.0 8.3.4)
 *     hardwareAaguids: ["cb69481e-8ff7-4039-93ec-0a2729a154a8"]   # e.g. YubiKey 5 series
 *     directoryStore: 01HX...               # membership and manager tuples go to this store
 *     federation: { providers: [...] }
 *     devices:
 *       posture: { require: [diskEncryption, firewall], minOsVersion: { ubuntu: "22.04" }, maxAge: 24h }
 */
import { z } from "zod";
import { type ErrorDetail, TenetError } from "../errors.js";
import { parsePosturePolicy, type PosturePolicy } from "../identity/devices/posture-policy.js";
import { parseDuration } from "../policy/jit/duration.js";

export interface IdentityConfig {
  publicUrl: string | undefined;
  sessionIdleMs: number;
  sessionAbsoluteMs: number;
  accessTokenMs: number;
  idTokenMs: number;
  refreshTokenMs: number;
  lockout: { maxFailures: number; durationMs: number };
  hardwareAaguids: string[];
  directoryStore: string | undefined;
  /** Checked by the federation module. */
  federation: unknown;
  /** Which device posture is compliant. */
  devices: PosturePolicy;
}

const durationText = (dflt: string) =>
  z
    .string()
    .refine((s) => {
      try {
        parseDuration(s);
        return true;
      } catch {
        return false;
      }
    }, "must be a duration such as '30m', '8h' or 'PT1H'")
    .default(dflt);

const AAGUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

const schema = z.strictObject({
  publicUrl: z
    .string()
    .refine((s) => {
      try {
        const u = new URL(s);
        return (u.protocol === "https:" || (u.protocol === "http:" && ["localhost", "127.0.0.1", "[::1]"].includes(u.hostname))) && u.pathname === "/" && !u.search && !u.hash;
      } catch {
        return false;
      }
    }, "must be an https origin such as https://id.example.com (http only for localhost), without a path")
    .optional(),
  sessions: z.strictObject({ idle: durationText("2h"), absolute: durationText("12h") }).prefault({}),
  tokens: z.strictObject({ accessToken: durationText("10m"), idToken: durationText("10m"), refreshToken: durationText("8h") }).prefault({}),
  lockout: z
    .strictObject({
      maxFailures: z.number().int().min(1).max(10, "PCI DSS 4.0 8.3.4: at most 10 failures").default(10),
      duration: durationText("30m"),
    })
    .prefault({}),
  hardwareAaguids: z.array(z.string().regex(AAGUID, "must be an AAGUID such as cb69481e-8ff7-4039-93ec-0a2729a154a8")).default([]),
  directoryStore: z.string().min(1).max(64).optional(),
  federation: z.unknown().optional(),
  devices: z.strictObject({ posture: z.unknown().optional() }).prefault({}),
});

export function parseIdentityConfig(raw: unknown, details: ErrorDetail[]): IdentityConfig | undefined {
  const r = schema.safeParse(raw ?? {});
  if (!r.success) {
    for (const i of r.error.issues) details.push({ where: ["identity", ...i.path.map(String)].join("."), message: i.message });
    return undefined;
  }
  const c = r.data;
  const lockoutMs = parseDuration(c.lockout.duration);
  if (lockoutMs < 30 * 60_000) {
    details.push({ where: "identity.lockout.duration", message: "PCI DSS 4.0 8.3.4: a lockout lasts at least 30 minutes" });
    return undefined;
  }
  let devices: PosturePolicy;
  try {
    devices = parsePosturePolicy(c.devices.posture);
  } catch (err) {
    if (!(err instanceof TenetError)) throw err;
    details.push(...err.details.map((d) => ({ ...d, where: `identity.${d.where}` })));
    return undefined;
  }
  const idle = parseDuration(c.sessions.idle);
  const absolute = parseDuration(c.sessions.absolute);
  if (idle > absolute) details.push({ where: "identity.sessions.idle", message: "must not be longer than sessions.absolute" });
  return {
    publicUrl: c.publicUrl?.replace(/\/+$/, ""),
    sessionIdleMs: idle,
    sessionAbsoluteMs: absolute,
    accessTokenMs: parseDuration(c.tokens.accessToken),
    idTokenMs: parseDuration(c.tokens.idToken),
    refreshTokenMs: parseDuration(c.tokens.refreshToken),
    lockout: { maxFailures: c.lockout.maxFailures, durationMs: lockoutMs },
    hardwareAaguids: c.hardwareAaguids.map((a) => a.toLowerCase()),
    directoryStore: c.directoryStore,
    federation: c.federation,
    devices,
  };
}
