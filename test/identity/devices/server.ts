/**
 * A real API server with the devices plugin (buildServer, the real API-key authenticator) on a
 * random local port. The signed-in user is read from a test header by `userOf`, standing in for
 * the OIDC access token the server will take it from.
 */
import type { FastifyInstance } from "fastify";
import { ApiAuthenticator } from "../../../src/api/auth/authenticator.js";
import { registerDeviceRoutes } from "../../../src/api/devices/routes.js";
import type { LaneRequest } from "../../../src/api/lane.js";
import { buildServer } from "../../../src/api/server.js";
import type { DeviceRegistry } from "../../../src/identity/devices/registry.js";
import { PolicyService } from "../../../src/policy/service.js";
import type { TestStore } from "./helpers.js";

/** The header the test `userOf` reads: stands in for the OIDC access token the lead will wire. */
export const TEST_USER_HEADER = "x-test-user";

/** Reads the test header (the default `userOf`). */
export function userFromTestHeader(req: LaneRequest): string | undefined {
  const v = req.headers[TEST_USER_HEADER];
  return typeof v === "string" && v !== "" ? v : undefined;
}

export async function startDeviceServer(
  store: TestStore,
  devices: DeviceRegistry,
  userOf: (req: LaneRequest) => string | undefined = userFromTestHeader,
): Promise<{ app: FastifyInstance; url: string }> {
  const auth = new ApiAuthenticator(store.ds, null, 5000);
  const app = await buildServer({
    policy: new PolicyService(store.ds),
    auth,
    logLevel: "silent",
    plugins: [
      (r) =>
        registerDeviceRoutes(r, {
          devices,
          auth,
          userOf,
        }),
    ],
  });
  await app.listen({ port: 0, host: "127.0.0.1" });
  const addr = app.server.address();
  if (typeof addr !== "object" || addr === null) throw new Error("no address");
  return { app, url: `http://127.0.0.1:${addr.port}` };
}
