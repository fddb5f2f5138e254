/**
 * Devices over HTTP, under `/identity/devices`. Handlers are thin: validate (schemas.ts), decide
 * who is asking, call the device registry, shape the reply.
 *
 * Who may do what. These routes are declared public to the Router (no API scope) because their
 * callers are people and devices, not API credentials:
 *   - a signed-in user (`userOf(req)`, e.g. from an OIDC access token or a session) enrols,
 *     lists, reads and removes their own devices;
 *   - an admin (an API credential with the `admin` scope, checked with the server's
 *     Authenticator only when a request needs it) does the same for any user: `userId` in the
 *     enrolment body or the list query, or any device id;
 *   - a device reports posture with a report signed by its own key: the JWS is the credential.
 * A device of another user reads as missing (404) to a non-admin, so ids cannot be probed.
 * Without a signed-in user or an admin credential the answer is 401.
 */
import { TenetError } from "../../errors.js";
import type { DeviceRegistry } from "../../identity/devices/registry.js";
import type { Device } from "../../identity/devices/types.js";
import type { Authenticator, Principal } from "../auth/authenticator.js";
import type { LaneRequest } from "../lane.js";
import type { Router } from "../route.js";
import * as s from "./schemas.js";

const TAGS = ["Devices"];
const BASE = "/identity/devices";

export interface DeviceRouteDeps {
  devices: DeviceRegistry;
  /** The signed-in user's directory id, or undefined when the request carries no user. */
  userOf: (req: LaneRequest) => string | undefined | Promise<string | undefined>;
  /** The server's authenticator: admins are API credentials with the `admin` scope. */
  auth: Authenticator;
}

/** The wire shape of a device: its verdict evaluated now (stale posture shows at once). */
export function deviceView(d: Device, devices: DeviceRegistry) {
  const v = devices.evaluate(d);
  return {
    id: d.id,
    userId: d.userId,
    name: d.name,
    platform: d.platform,
    alg: d.alg,
    keyThumbprint: d.keyThumbprint,
    enrolledAt: d.enrolledAt,
    enrolledBy: d.enrolledBy,
    lastReportAt: d.lastReportAt,
    posture: d.posture,
    compliant: v.compliant,
    reasons: v.reasons,
  };
}

interface Caller {
  userId: string | undefined;
  /** True when the request carries an admin credential (authenticated once, on first ask). */
  isAdmin(): Promise<boolean>;
  /** The admin principal, or throws 401/403 as the authenticator decides. */
  requireAdmin(): Promise<Principal>;
}

function callerOf(req: LaneRequest, deps: DeviceRouteDeps): Promise<Caller> {
  return Promise.resolve(deps.userOf(req)).then((userId) => {
    let admin: Promise<Principal> | undefined;
    const requireAdmin = () => {
      admin ??= Promise.resolve()
        .then(() => deps.auth.authenticate(req, "admin"))
        .catch((err: unknown) => {
          // A signed-in user without an admin credential is known but not allowed: 403, not 401.
          if (userId !== undefined && err instanceof TenetError && err.code === "unauthenticated") {
            throw new TenetError("forbidden", "only admins may act on other users' devices");
          }
          throw err;
        });
      return admin;
    };
    const isAdmin = async () => {
      if (!req.headers.authorization) return false;
      try {
        await requireAdmin();
        return true;
      } catch (err) {
        // Not an admin credential (perhaps the user's own token): that is an answer, not an error.
        if (err instanceof TenetError && (err.code === "unauthenticated" || err.code === "forbidden")) return false;
        throw err;
      }
    };
    return { userId, isAdmin, requireAdmin };
  });
}

/** Refuses callers that are neither a signed-in user nor an admin (401 / 403). */
async function requireSomeone(c: Caller): Promise<void> {
  if (c.userId === undefined) await c.requireAdmin();
}

/** The device if the caller may see it: their own, or any for an admin; 404 otherwise. */
async function deviceFor(c: Caller, id: string, devices: DeviceRegistry): Promise<Device> {
  await requireSomeone(c);
  const d = await devices.get(id);
  if (d && (d.userId === c.userId || (await c.isAdmin()))) return d;
  throw new TenetError("not_found", `device ${id} does not exist`);
}

export function registerDeviceRoutes(r: Router, deps: DeviceRouteDeps): void {
  const { devices } = deps;
  r.add({
    method: "POST", url: BASE, summary: "Enrol a device key for the signed-in user (admins: for any user)", tags: TAGS,
    body: s.enrollBody,
    handler: async ({ body, req, reply }) => {
      const c = await callerOf(req, deps);
      const userId = body.userId ?? c.userId;
      if (userId === undefined) {
        await c.requireAdmin();
        throw new TenetError("validation_error", "userId is required when an admin enrols a device");
      }
      let enrolledBy = `user:${c.userId}`;
      if (userId !== c.userId) {
        const p = await c.requireAdmin();
        enrolledBy = `${p.kind}:${p.id}`;
      }
      const device = await devices.enroll({ userId, name: body.name, publicKey: body.publicKey, platform: body.platform, enrolledBy });
      reply.code(201);
      return deviceView(device, devices);
    },
  });
  r.add({
    method: "POST", url: `${BASE}/:id/posture`, summary: "Report posture, signed by the device key (the report is the credential)", tags: TAGS,
    params: s.deviceParams, body: s.postureBody,
    handler: async ({ params, body }) => {
      const { compliance } = await devices.report(body.report, { deviceId: params.id });
      return { compliant: compliance.compliant, reasons: compliance.reasons };
    },
  });
  r.add({
    method: "GET", url: BASE, summary: "The signed-in user's devices (admins: ?userId= or every device)", tags: TAGS,
    query: s.listQuery,
    handler: async ({ query, req }) => {
      const c = await callerOf(req, deps);
      const userId = query.userId ?? c.userId;
      if (userId === undefined || userId !== c.userId) await c.requireAdmin();
      if (userId !== undefined) {
        if (query.continuation_token !== undefined || query.page_size !== undefined) {
          throw new TenetError("validation_error", "page_size and continuation_token apply only to the list of every device");
        }
        return { devices: (await devices.listByUser(userId)).map((d) => deviceView(d, devices)), continuation_token: "" };
      }
      const page = await devices.listAll({ after: query.continuation_token, limit: query.page_size });
      return { devices: page.items.map((d) => deviceView(d, devices)), continuation_token: page.next ?? "" };
    },
  });
  r.add({
    method: "GET", url: `${BASE}/:id`, summary: "A device with its last posture and its compliance now", tags: TAGS,
    params: s.deviceParams,
    handler: async ({ params, req }) => deviceView(await deviceFor(await callerOf(req, deps), params.id, devices), devices),
  });
  r.add({
    method: "DELETE", url: `${BASE}/:id`, summary: "Remove a device (its reports are refused from then on)", tags: TAGS,
    params: s.deviceParams,
    handler: async ({ params, req, reply }) => {
      const c = await callerOf(req, deps);
      const d = await deviceFor(c, params.id, devices);
      const by = d.userId === c.userId ? `user:${c.userId}` : await c.requireAdmin().then((p) => `${p.kind}:${p.id}`);
      await devices.remove(d.id, { userId: d.userId, by });
      reply.code(204);
      return undefined;
    },
  });
}
