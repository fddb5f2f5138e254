/**
 * Request schemas of the devices API. Strict: an unknown field is refused (a private key member
 * such as `d` in `publicKey` included). Shapes here; meaning (curves, points, policy) in the
 * device registry.
 */
import { z } from "zod";
import { ulidSchema } from "../openfga/schemas.js";

// eslint-disable-next-line no-control-regex
const CONTROL_CHARS = /[\u0000-\u001f\u007f]/;
const text = (max: number) =>
  z
    .string()
    .min(1)
    .max(max)
    .refine((s) => !CONTROL_CHARS.test(s), "must not contain control characters");

const userId = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._@+-]{0,127}$/, "must be a user id").describe("a directory user id");
const b64url = z.string().min(1).max(128).regex(/^[A-Za-z0-9_-]+$/, "must be base64url");

/** A public JWK (RFC 7517): EC P-256 or OKP Ed25519; the common optional members are allowed. */
export const publicJwk = z.strictObject({
  kty: z.enum(["EC", "OKP"]),
  crv: z.enum(["P-256", "Ed25519"]),
  x: b64url,
  y: b64url.optional(),
  alg: z.enum(["ES256", "EdDSA", "Ed25519"]).optional(),
  kid: text(128).optional(),
  use: z.literal("sig").optional(),
  key_ops: z.array(z.literal("verify")).max(1).optional(),
  ext: z.boolean().optional(),
});

export const enrollBody = z.strictObject({
  name: text(128).describe("what the user calls the device, e.g. 'work laptop'"),
  publicKey: publicJwk.describe("the device key's public JWK; the private key never leaves the device"),
  platform: text(32).optional().describe("linux, darwin, win32, ..."),
  userId: userId.optional().describe("admins only: enrol for this user (default: the signed-in user)"),
});

export const deviceParams = z.strictObject({ id: ulidSchema });

export const postureBody = z.strictObject({
  report: z
    .string()
    .min(1)
    .max(16 * 1024)
    .describe("compact JWS signed by the device key: typ tenet-posture+jwt, payload { iss, sub, iat, jti, posture }"),
});

export const listQuery = z.strictObject({
  userId: userId.optional().describe("admins only: this user's devices"),
  page_size: z.coerce.number().int().min(1).max(100).optional(),
  continuation_token: ulidSchema.optional(),
});
