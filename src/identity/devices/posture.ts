/**
 * The posture document a device reports: what its agent could tell about the host. Every check is
 * three-valued: an agent that cannot tell says `unknown` rather than guessing, and the posture
 * policy treats `unknown` as "not shown" (posture-policy.ts).
 *
 * The schema is strict (an unknown field is refused) so that an agent reporting something this
 * server does not understand learns it at once instead of having it silently ignored.
 */
import { z } from "zod";
import { TenetError } from "../../errors.js";

export const CHECK_VALUES = ["on", "off", "unknown"] as const;
export type CheckValue = (typeof CHECK_VALUES)[number];

/** The checks a policy can require to be `on`. */
export const POSTURE_CHECKS = ["diskEncryption", "screenLock", "firewall"] as const;
export type PostureCheck = (typeof POSTURE_CHECKS)[number];

// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f]/;

const check = z.enum(CHECK_VALUES);

export const postureSchema = z.strictObject({
  os: z.strictObject({
    /** `/etc/os-release` ID (`debian`, `ubuntu`, `fedora`), `macos`, `windows`, or the platform. */
    name: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9 ._()+-]{0,63}$/, "must be 1–64 letters, digits, spaces or . _ ( ) + -"),
    /** `12`, `24.04`, `14.2.1`, or `unknown`. */
    version: z.string().min(1).max(64).refine((s) => !CONTROL.test(s), "must not contain control characters"),
  }),
  diskEncryption: check,
  screenLock: check,
  firewall: check,
  managed: z.union([z.boolean(), z.literal("unknown")]),
  /** When the agent looked (RFC 3339); staleness is measured from here. */
  collectedAt: z.iso.datetime({ offset: true }),
});

export type Posture = z.infer<typeof postureSchema>;

/** Validates a posture document; throws `validation_error` naming each problem. */
export function parsePosture(value: unknown, where = "posture"): Posture {
  const r = postureSchema.safeParse(value);
  if (!r.success) {
    const details = r.error.issues.map((i) => ({ where: [where, ...i.path.map(String)].join("."), message: i.message }));
    throw new TenetError("validation_error", `invalid ${where}: ${details.map((d) => `${d.where}: ${d.message}`).join("; ")}`, { details });
  }
  return r.data;
}
