/**
 * What happens to identities, as one in-process bus: the directory, credentials, devices and the
 * risk engine publish; sessions (revoke or downgrade) and the shared-signals transmitter (CAEP
 * events to receivers) listen. Listeners run after the change is stored, each in isolation: one
 * that throws is reported through `onError` and does not stop the others.
 */

export type IdentityEvent =
  | { type: "user.suspended"; userId: string; reason?: string | undefined }
  | { type: "user.reactivated"; userId: string }
  | { type: "user.deleted"; userId: string }
  | { type: "credential.added"; userId: string; credential: "passkey" | "totp" | "recovery_codes"; credentialId?: string | undefined }
  | { type: "credential.removed"; userId: string; credential: "passkey" | "totp" | "recovery_codes"; credentialId?: string | undefined }
  | { type: "device.compliance_changed"; userId: string; deviceId: string; compliant: boolean; reasons: string[] }
  | { type: "device.removed"; userId: string; deviceId: string }
  | { type: "risk.changed"; userId: string; previous: string; current: string }
  | { type: "session.revoked"; userId: string; sessionId: string; reason: string }
  | { type: "session.assurance_changed"; userId: string; sessionId: string; previous: string; current: string };

export type IdentityEventType = IdentityEvent["type"];
type Listener = (e: IdentityEvent) => void | Promise<void>;

export class IdentityEvents {
  private readonly listeners: Listener[] = [];

  constructor(private readonly onError: (err: unknown, e: IdentityEvent) => void = () => undefined) {}

  /** Listens to every event; returns the function that stops listening. */
  on(listener: Listener): () => void {
    this.listeners.push(listener);
    return () => {
      const i = this.listeners.indexOf(listener);
      if (i >= 0) this.listeners.splice(i, 1);
    };
  }

  /** Delivers to every listener; resolves when all have finished (failures reported, not thrown). */
  async emit(e: IdentityEvent): Promise<void> {
    await Promise.all(
      this.listeners.map(async (l) => {
        try {
          await l(e);
        } catch (err) {
          this.onError(err, e);
        }
      }),
    );
  }
}
