/**
 * The device registry: enrolment of device-bound keys, signed posture reports, compliance, and
 * removal, in documents storage.
 *
 * Documents:
 *   identity.devices       <deviceId>           the device (a tombstone once removed)
 *   identity.device-users  <userId>/<deviceId>  index for "devices of a user" (prefix listing)
 *   identity.device-keys   <JWK thumbprint>     one key, one device (the uniqueness check)
 * Index entries are written before the device and removed after it, so a crash in between leaves
 * an entry pointing at nothing: readers skip it and the next claim takes it over.
 *
 * A removed device stays as a tombstone for `removedRetention` (default 30 days) so that its
 * reports are refused as "removed" rather than "unknown" and its key cannot be enrolled again;
 * `sweep` purges it afterwards.
 *
 * Reports are single-use: the device document remembers the `jti` of every report still inside
 * the acceptance window (5 minutes old to 1 minute ahead), and accepting a report is a
 * compare-and-set on the document's version, so a replay is refused even when two replicas
 * receive it at the same moment.
 */
import { TenetError } from "../../errors.js";
import { DocumentConflict, type DocumentRecord, type DocumentsBackend } from "../../storage/interfaces.js";
import { ulid } from "../../util/ulid.js";
import { checkText, isId } from "../accounts/validate.js";
import type { IdentityEvents } from "../events.js";
import type { Posture } from "./posture.js";
import { PosturePolicy } from "./posture-policy.js";
import { claimedDevice, deviceKeyOf, verifyPostureReport } from "./signature.js";
import type { ComplianceResult, Device, DeviceCompliance, NewDevice } from "./types.js";

export const DEVICES = "identity.devices";
const DEVICE_USERS = "identity.device-users";
const DEVICE_KEYS = "identity.device-keys";

/** Reports signed more than this long ago are refused. */
export const REPORT_MAX_AGE_S = 300;
/** Reports may be signed this far in the device's future (clock skew). */
export const REPORT_MAX_SKEW_S = 60;
/** At most this many reports per acceptance window (one every 6 s on average). */
const MAX_RECENT_REPORTS = 60;
const MAX_RETRIES = 10;
const ULID = /^[0-7][0-9A-HJKMNP-TV-Z]{25}$/;

interface DeviceBody extends Omit<Device, "version" | "updatedAt"> {
  status: "active" | "removed";
  removedAt?: string | undefined;
  removedBy?: string | undefined;
  /** Reports inside the acceptance window: their nonces, for the replay check. */
  recentReports: Array<{ jti: string; iat: number }>;
  /** `iat` of the report whose posture is stored; an older report does not replace it. */
  lastIat?: number | undefined;
}

interface IndexEntry {
  deviceId: string;
}

export interface DeviceRegistryOptions {
  documents: DocumentsBackend;
  events?: IdentityEvents | undefined;
  policy?: PosturePolicy | undefined;
  /** When given, enrolment refuses users that do not exist or are suspended. */
  users?: { getUser(id: string): Promise<{ status: string } | undefined> } | undefined;
  /** Active devices a user may have (default 20). */
  maxDevicesPerUser?: number | undefined;
  /** How long a device read is trusted by `complianceOf` (default 5 s; bounds staleness between replicas). */
  cacheMs?: number | undefined;
  /** How long a removed device's tombstone is kept (default 30 days). */
  removedRetentionMs?: number | undefined;
  now?: () => number;
  newId?: () => string;
}

export interface SweepReport {
  /** Active devices evaluated. */
  checked: number;
  /** Devices whose compliance flipped (each announced with `device.compliance_changed`). */
  changed: number;
  /** Tombstones purged. */
  purged: number;
}

export interface ReportResult {
  device: Device;
  compliance: ComplianceResult;
  /** The compliance flag differs from the one stored before this report. */
  changed: boolean;
}

function deviceOf(r: DocumentRecord<DeviceBody>): Device {
  const { status: _s, removedAt: _ra, removedBy: _rb, recentReports: _rr, lastIat: _li, ...rest } = r.body;
  return { ...rest, updatedAt: r.updatedAt, version: r.version };
}

function replayError(message: string): TenetError {
  return new TenetError("unauthenticated", `posture report refused: ${message}`);
}

export class DeviceRegistry {
  readonly policy: PosturePolicy;
  private readonly docs: DocumentsBackend;
  private readonly now: () => number;
  private readonly newId: () => string;
  private readonly maxDevices: number;
  private readonly cacheMs: number;
  private readonly retentionMs: number;
  /** deviceId → the device as last read or written here (null: no such active device). */
  private readonly cache = new Map<string, { device: Device | null; until: number }>();
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly opts: DeviceRegistryOptions) {
    if (!opts?.documents) throw new TypeError("DeviceRegistry needs documents");
    this.docs = opts.documents;
    this.policy = opts.policy ?? new PosturePolicy();
    this.now = opts.now ?? Date.now;
    this.newId = opts.newId ?? (() => ulid());
    this.maxDevices = opts.maxDevicesPerUser ?? 20;
    this.cacheMs = opts.cacheMs ?? 5000;
    this.retentionMs = opts.removedRetentionMs ?? 30 * 24 * 3600_000;
  }

  // ---- enrolment ----

  /** Enrols a device for `userId` (the caller has established that it may). */
  async enroll(input: NewDevice): Promise<Device> {
    if (typeof input !== "object" || input === null) throw new TenetError("validation_error", "an enrolment must be an object");
    if (typeof input.userId !== "string" || !isId(input.userId)) throw new TenetError("validation_error", "userId must be a user id");
    const name = checkText(input.name, "name", 128);
    if (name === undefined) throw new TenetError("validation_error", "name is required");
    const platform = checkText(input.platform, "platform", 32);
    const enrolledBy = checkText(input.enrolledBy, "enrolledBy", 256) ?? `user:${input.userId}`;
    const key = await deviceKeyOf(input.publicKey);
    if (this.opts.users) {
      const user = await this.opts.users.getUser(input.userId);
      if (!user) throw new TenetError("not_found", `user ${input.userId} does not exist`);
      if (user.status === "suspended") throw new TenetError("forbidden", `user ${input.userId} is suspended`);
    }
    if ((await this.listByUser(input.userId)).length >= this.maxDevices) {
      throw new TenetError("conflict", `user ${input.userId} already has ${this.maxDevices} devices: remove one first`);
    }
    const id = this.newId();
    const at = new Date(this.now()).toISOString();
    const body: DeviceBody = {
      id,
      userId: input.userId,
      name,
      platform,
      publicKey: key.publicKey,
      alg: key.alg,
      keyThumbprint: key.thumbprint,
      enrolledAt: at,
      enrolledBy,
      compliance: { compliant: false, reasons: ["no posture reported yet"], evaluatedAt: at },
      status: "active",
      recentReports: [],
    };
    await this.claimKey(key.thumbprint, id);
    try {
      await this.docs.putDocument(DEVICE_USERS, `${input.userId}/${id}`, { deviceId: id } satisfies IndexEntry, 0);
      await this.docs.putDocument(DEVICES, id, body, 0);
    } catch (err) {
      await this.docs.deleteDocument(DEVICE_USERS, `${input.userId}/${id}`).catch(() => undefined);
      await this.docs.deleteDocument(DEVICE_KEYS, key.thumbprint).catch(() => undefined);
      if (err instanceof DocumentConflict) throw new TenetError("conflict", `a device with id ${id} already exists`);
      throw err;
    }
    const device = (await this.read(id))!;
    return device;
  }

  /** Takes the key's index entry, or refuses: a key already bound to a device (even a removed one). */
  private async claimKey(thumbprint: string, deviceId: string): Promise<void> {
    for (let i = 0; i < MAX_RETRIES; i++) {
      try {
        await this.docs.putDocument(DEVICE_KEYS, thumbprint, { deviceId } satisfies IndexEntry, 0);
        return;
      } catch (err) {
        if (!(err instanceof DocumentConflict)) throw err;
      }
      const entry = await this.docs.getDocument<IndexEntry>(DEVICE_KEYS, thumbprint);
      if (!entry) continue;
      const owner = await this.docs.getDocument<DeviceBody>(DEVICES, entry.body.deviceId);
      if (owner && owner.body.keyThumbprint === thumbprint) throw new TenetError("conflict", "this key is already enrolled as a device: generate a new key for each enrolment");
      // Left behind by an enrolment that never finished: take it over.
      try {
        await this.docs.putDocument(DEVICE_KEYS, thumbprint, { deviceId } satisfies IndexEntry, entry.version);
        return;
      } catch (err) {
        if (!(err instanceof DocumentConflict)) throw err;
      }
    }
    throw new TenetError("conflict", "too many concurrent enrolments of the same key; retry");
  }

  // ---- reading ----

  /** An active device; with `userId`, only if it is that user's (another's reads as missing). */
  async get(id: string, opts: { userId?: string | undefined } = {}): Promise<Device | undefined> {
    if (typeof id !== "string" || !ULID.test(id)) return undefined;
    const d = await this.read(id);
    if (!d || (opts.userId !== undefined && d.userId !== opts.userId)) return undefined;
    return d;
  }

  /** A user's active devices, oldest first. */
  async listByUser(userId: string): Promise<Device[]> {
    if (typeof userId !== "string" || !isId(userId)) throw new TenetError("validation_error", "userId must be a user id");
    const entries = await this.docs.listDocuments<IndexEntry>(DEVICE_USERS, { prefix: `${userId}/`, limit: 1000 });
    const out: Device[] = [];
    for (const e of entries) {
      const d = await this.read(e.body.deviceId);
      if (d && d.userId === userId) out.push(d);
    }
    return out;
  }

  /** Every active device in id (enrolment) order, for admins: a page after `after`. */
  async listAll(opts: { after?: string | undefined; limit?: number | undefined } = {}): Promise<{ items: Device[]; next?: string }> {
    const limit = Math.max(1, Math.min(opts.limit ?? 100, 1000));
    const items: Device[] = [];
    let after = opts.after;
    // Tombstones are skipped, so a page may need more than one read to fill.
    for (;;) {
      const rows = await this.docs.listDocuments<DeviceBody>(DEVICES, { ...(after !== undefined ? { after } : {}), limit: limit - items.length });
      for (const r of rows) {
        if (r.body.status === "active") items.push(deviceOf(r));
      }
      if (rows.length === 0) return { items };
      after = rows[rows.length - 1]!.id;
      if (items.length >= limit) return { items, next: after };
    }
  }

  // ---- compliance ----

  /** The verdict for a device's stored posture at `now`: what the decision point should use. */
  evaluate(device: { posture?: Posture | undefined }, now = this.now()): ComplianceResult {
    return this.policy.evaluate(device, now);
  }

  /**
   * Compliance of a device for the decision point; undefined for an unknown or removed device
   * (treat as not compliant). Synchronous when the device was read within `cacheMs` (the verdict
   * is evaluated afresh each time, so posture going stale shows at once); a promise otherwise.
   */
  complianceOf(deviceId: string, now = this.now()): DeviceCompliance | undefined | Promise<DeviceCompliance | undefined> {
    const hit = this.cache.get(deviceId);
    if (hit && hit.until > this.now()) return this.complianceFrom(hit.device, now);
    if (typeof deviceId !== "string" || !ULID.test(deviceId)) return undefined;
    return this.read(deviceId).then((d) => this.complianceFrom(d ?? null, now));
  }

  private complianceFrom(d: Device | null, now: number): DeviceCompliance | undefined {
    if (!d) return undefined;
    const v = this.policy.evaluate(d, now);
    return { deviceId: d.id, userId: d.userId, compliant: v.compliant, reasons: v.reasons, lastReportAt: d.lastReportAt };
  }

  // ---- reports ----

  /**
   * Accepts a signed posture report: verifies it with the device's key, refuses stale, future
   * and replayed reports, stores the posture and the new verdict, and announces a change of
   * compliance. `deviceId` (from the URL) must match the report's issuer.
   */
  async report(jws: unknown, opts: { deviceId?: string | undefined } = {}): Promise<ReportResult> {
    const claimed = claimedDevice(jws);
    if (opts.deviceId !== undefined && opts.deviceId !== claimed) throw new TenetError("validation_error", "the report is signed for another device than the one in the URL");
    let rec = ULID.test(claimed) ? await this.docs.getDocument<DeviceBody>(DEVICES, claimed) : undefined;
    if (!rec) throw replayError("unknown device (enrol it first)");
    if (rec.body.status !== "active") throw replayError("this device was removed (enrol it again)");
    const v = await verifyPostureReport(jws as string, rec.body);
    const nowMs = this.now();
    const nowS = Math.floor(nowMs / 1000);
    if (v.iat < nowS - REPORT_MAX_AGE_S) throw replayError(`signed more than ${REPORT_MAX_AGE_S / 60} minutes ago (check the device clock, or send a fresh report)`);
    if (v.iat > nowS + REPORT_MAX_SKEW_S) throw replayError("signed in the future (check the device clock)");
    const collected = Date.parse(v.posture.collectedAt);
    if (collected > nowMs + REPORT_MAX_SKEW_S * 1000 || collected > (v.iat + REPORT_MAX_SKEW_S) * 1000) {
      throw new TenetError("validation_error", "posture.collectedAt is later than the report (check the device clock)");
    }
    const at = new Date(nowMs).toISOString();
    for (let i = 0; i < MAX_RETRIES; i++) {
      const before = rec.body;
      if (before.status !== "active") throw replayError("this device was removed (enrol it again)");
      // Nonces older than the window can go: their reports would be refused as too old anyway.
      const recent = before.recentReports.filter((r) => r.iat >= nowS - REPORT_MAX_AGE_S - REPORT_MAX_SKEW_S);
      if (recent.some((r) => r.jti === v.jti)) throw replayError("this report was already received (replay)");
      if (recent.length >= MAX_RECENT_REPORTS) {
        throw Object.assign(new TenetError("rate_limited", `more than ${MAX_RECENT_REPORTS} reports in ${(REPORT_MAX_AGE_S + REPORT_MAX_SKEW_S) / 60} minutes`), { retryAfter: 60 });
      }
      recent.push({ jti: v.jti, iat: v.iat });
      const next: DeviceBody = { ...before, recentReports: recent };
      // Reports may arrive out of order: an older one is accepted (its nonce is spent) but does
      // not replace newer posture.
      if (before.lastIat === undefined || v.iat >= before.lastIat) {
        next.posture = v.posture;
        next.lastIat = v.iat;
        next.lastReportAt = at;
      }
      const verdict = this.policy.evaluate(next, nowMs);
      next.compliance = { ...verdict, evaluatedAt: at };
      try {
        const version = await this.docs.putDocument(DEVICES, before.id, next, rec.version);
        const device = deviceOf({ ...rec, body: next, version, updatedAt: at });
        this.remember(device);
        const changed = verdict.compliant !== before.compliance.compliant;
        if (changed) await this.announce(device, verdict);
        return { device, compliance: verdict, changed };
      } catch (err) {
        if (!(err instanceof DocumentConflict)) throw err;
      }
      rec = await this.docs.getDocument<DeviceBody>(DEVICES, claimed);
      if (!rec) throw replayError("unknown device (enrol it first)");
    }
    throw new TenetError("conflict", "too many concurrent reports for this device; retry");
  }

  // ---- removal ----

  /**
   * Removes a device: its reports are refused from now on and `device.removed` is announced.
   * With `userId`, only that user's device (another's reads as missing).
   */
  async remove(id: string, opts: { userId?: string | undefined; by?: string | undefined } = {}): Promise<Device> {
    for (let i = 0; i < MAX_RETRIES; i++) {
      const rec = typeof id === "string" && ULID.test(id) ? await this.docs.getDocument<DeviceBody>(DEVICES, id) : undefined;
      if (!rec || rec.body.status !== "active" || (opts.userId !== undefined && rec.body.userId !== opts.userId)) {
        throw new TenetError("not_found", `device ${id} does not exist`);
      }
      const at = new Date(this.now()).toISOString();
      const body: DeviceBody = { ...rec.body, status: "removed", removedAt: at, removedBy: checkText(opts.by, "by", 256), recentReports: [] };
      try {
        await this.docs.putDocument(DEVICES, id, body, rec.version);
      } catch (err) {
        if (err instanceof DocumentConflict) continue;
        throw err;
      }
      this.cache.set(id, { device: null, until: this.now() + this.cacheMs });
      await this.docs.deleteDocument(DEVICE_USERS, `${rec.body.userId}/${id}`);
      const device = deviceOf(rec);
      await this.opts.events?.emit({ type: "device.removed", userId: device.userId, deviceId: id });
      return device;
    }
    throw new TenetError("conflict", "the device is changing; retry");
  }

  /** Removes every device of a user (wire it to `user.deleted`); returns how many. */
  async removeAllOf(userId: string, by?: string): Promise<number> {
    let n = 0;
    for (const d of await this.listByUser(userId)) {
      try {
        await this.remove(d.id, { userId, by });
        n++;
      } catch (err) {
        if (!(err instanceof TenetError && err.code === "not_found")) throw err;
      }
    }
    return n;
  }

  // ---- background ----

  /**
   * Re-evaluates every active device at `now`: posture that went stale (or a policy that changed)
   * flips the stored verdict, and each flip is announced. Purges tombstones past retention.
   */
  async sweep(now = this.now()): Promise<SweepReport> {
    const report: SweepReport = { checked: 0, changed: 0, purged: 0 };
    let after: string | undefined;
    for (;;) {
      const rows = await this.docs.listDocuments<DeviceBody>(DEVICES, { ...(after !== undefined ? { after } : {}), limit: 200 });
      if (rows.length === 0) return report;
      after = rows[rows.length - 1]!.id;
      for (const row of rows) {
        if (row.body.status === "removed") {
          if (row.body.removedAt !== undefined && Date.parse(row.body.removedAt) + this.retentionMs < now && (await this.purge(row))) report.purged++;
          continue;
        }
        report.checked++;
        if (await this.reevaluate(row, now)) report.changed++;
      }
    }
  }

  /** Stores a flipped verdict (compare-and-set, re-read on conflict) and announces it. */
  private async reevaluate(row: DocumentRecord<DeviceBody>, now: number): Promise<boolean> {
    let rec: DocumentRecord<DeviceBody> | undefined = row;
    for (let i = 0; i < MAX_RETRIES && rec && rec.body.status === "active"; i++) {
      const verdict = this.policy.evaluate(rec.body, now);
      if (verdict.compliant === rec.body.compliance.compliant) return false;
      const at = new Date(now).toISOString();
      const body: DeviceBody = { ...rec.body, compliance: { ...verdict, evaluatedAt: at } };
      try {
        const version = await this.docs.putDocument(DEVICES, rec.id, body, rec.version);
        const device = deviceOf({ ...rec, body, version, updatedAt: at });
        this.remember(device);
        await this.announce(device, verdict);
        return true;
      } catch (err) {
        if (!(err instanceof DocumentConflict)) throw err;
      }
      rec = await this.docs.getDocument<DeviceBody>(DEVICES, row.id);
    }
    return false;
  }

  private async purge(row: DocumentRecord<DeviceBody>): Promise<boolean> {
    if (!(await this.docs.deleteDocument(DEVICES, row.id))) return false;
    const key = await this.docs.getDocument<IndexEntry>(DEVICE_KEYS, row.body.keyThumbprint);
    if (key?.body.deviceId === row.id) await this.docs.deleteDocument(DEVICE_KEYS, row.body.keyThumbprint);
    await this.docs.deleteDocument(DEVICE_USERS, `${row.body.userId}/${row.id}`);
    this.cache.delete(row.id);
    return true;
  }

  /** Sweeps every `sweepMs` (default 60 s) until `stop()`. */
  start(opts: { sweepMs?: number; onError?: (err: unknown) => void } = {}): void {
    if (this.timer) return;
    const onError = opts.onError ?? (() => undefined);
    let busy = false;
    this.timer = setInterval(() => {
      if (busy) return;
      busy = true;
      this.sweep()
        .catch(onError)
        .finally(() => {
          busy = false;
        });
    }, opts.sweepMs ?? 60_000);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  // ---- internals ----

  /** The active device by id (tombstones read as missing), refreshing the cache. */
  private async read(id: string): Promise<Device | undefined> {
    const r = await this.docs.getDocument<DeviceBody>(DEVICES, id);
    const device = r && r.body.status === "active" ? deviceOf(r) : undefined;
    if (device) this.remember(device);
    else this.cache.set(id, { device: null, until: this.now() + this.cacheMs });
    this.trimCache();
    return device;
  }

  private remember(device: Device): void {
    this.cache.delete(device.id);
    this.cache.set(device.id, { device, until: this.now() + this.cacheMs });
  }

  /** Bounds memory: the oldest entries (Map order) go first. */
  private trimCache(): void {
    const max = 10_000;
    if (this.cache.size <= max) return;
    for (const k of this.cache.keys()) {
      this.cache.delete(k);
      if (this.cache.size <= max) break;
    }
  }

  private async announce(device: Device, verdict: ComplianceResult): Promise<void> {
    await this.opts.events?.emit({ type: "device.compliance_changed", userId: device.userId, deviceId: device.id, compliant: verdict.compliant, reasons: verdict.reasons });
  }
}
