/**
 * Just-in-time access: request → approve/deny → a grant that ends on its own; break-glass grants
 * at once and is reviewed afterwards. Storage is documents (repository.ts), the grant is a
 * time-bound conditional tuple (condition.ts), notices go through the outbox (outbox.ts).
 *
 * Every change follows one sequence, so that a crash at any point leaves nothing half-applied for
 * good:
 *   1. record the intended effects (`jit-effects`: the event announcing the change);
 *   2. replace the request with a compare-and-set on its version: the single commit point (two
 *      concurrent approve/deny calls: exactly one wins, the other sees the new state);
 *   3. apply the effects, each idempotent: store the event in the outbox, make the grant index and
 *      the tuple match the request's state (reconcile);
 *   4. drop the record of step 1.
 * `recover` (run by `sweep`) finishes whatever step 3 a crash interrupted.
 *
 * The grant's tuple is written only if the store's model accepts it and no other tuple with the
 * same object, relation and user exists (it is never replaced or deleted). Otherwise the approval
 * still stands, recorded as `grant.tuple = { written: false, reason }`: the grant is then
 * enforced by the access-policy layer through `activeGrant` alone.
 */
import { TenetError } from "../../errors.js";
import { DocumentConflict, type DocumentsBackend } from "../../storage/interfaces.js";
import { ulid } from "../../util/ulid.js";
import type { PolicyService } from "../service.js";
import { DEFAULT_APPROVER_OPTIONS, resolveApprovers, validateApproverSpec, type ApproverOptions } from "./approvers.js";
import { durationOption, formatDuration, parseDuration } from "./duration.js";
import { jitEvent, type NotifyInput, type TenetEvent } from "./events.js";
import { GrantIndex } from "./grant-index.js";
import { GrantTuples } from "./grant-tuple.js";
import type { Outbox } from "./outbox.js";
import { JitRepository, type PendingEffects, type Versioned } from "./repository.js";
import * as t from "./transitions.js";
import type { ActiveGrant, ApproverSpec, BreakGlassInput, JitRequest, JitRequestInput, ListFilter, ListResult, ReviewOutcome } from "./types.js";
import { JIT_STATUSES } from "./types.js";
import { object, relation, subject, text } from "./validate.js";

export interface JitServiceOptions {
  documents: DocumentsBackend;
  policy: PolicyService;
  outbox: Outbox;
  /** The longest grant a request may ask for: milliseconds or `8h` (default 8h). */
  maxDuration?: number | string;
  /** The longest break-glass grant (default 1h). */
  breakGlassMaxDuration?: number | string;
  /** A request nobody decides within this long expires (default 24h). */
  pendingTtl?: number | string;
  approvers?: Partial<ApproverOptions>;
  now?: () => number;
  newId?: () => string;
}

/** Optional scoping of an operation by id: refuse (as not found) a request of another store. */
export interface InStore {
  storeId?: string | undefined;
}

export interface SweepReport {
  /** Grants marked expired (their tuples deleted). */
  expired: number;
  /** Pending requests that nobody decided in time. */
  lapsed: number;
  /** Interrupted operations finished. */
  recovered: number;
}

/** An operation still in flight is not "interrupted": recover leaves effects younger than this. */
const RECOVER_AFTER_MS = 30_000;
const MAX_RETRIES = 10;

export class JitService {
  readonly maxDurationMs: number;
  readonly breakGlassMaxDurationMs: number;
  readonly pendingTtlMs: number;
  private readonly repo: JitRepository;
  private readonly policy: PolicyService;
  private readonly outbox: Outbox;
  private readonly approverOptions: ApproverOptions;
  private readonly now: () => number;
  private readonly newId: () => string;
  private readonly index = new GrantIndex();
  private readonly tuples: GrantTuples;
  private timers: NodeJS.Timeout[] = [];

  constructor(opts: JitServiceOptions) {
    if (!opts?.documents || !opts.policy || !opts.outbox) throw new TypeError("JitService needs documents, policy and outbox");
    this.repo = new JitRepository(opts.documents);
    this.policy = opts.policy;
    this.outbox = opts.outbox;
    this.maxDurationMs = durationOption(opts.maxDuration, 8 * 3600_000, "maxDuration");
    this.breakGlassMaxDurationMs = durationOption(opts.breakGlassMaxDuration, 3600_000, "breakGlassMaxDuration");
    this.pendingTtlMs = durationOption(opts.pendingTtl, 24 * 3600_000, "pendingTtl");
    this.approverOptions = { ...DEFAULT_APPROVER_OPTIONS, ...opts.approvers };
    this.now = opts.now ?? Date.now;
    this.newId = opts.newId ?? (() => ulid());
    this.tuples = new GrantTuples(this.policy, this.now);
  }

  // ---- requests ----

  /** Asks for access; returns the open pending request for the same access if there is one. */
  async request(input: JitRequestInput): Promise<JitRequest> {
    return (await this.open(input)).request;
  }

  /** As `request`, and says whether the request is new (`created`) or the open one returned. */
  async open(input: JitRequestInput): Promise<{ request: JitRequest; created: boolean }> {
    const base = await this.validateNew(input, this.maxDurationMs, "maxDuration");
    const spec = validateApproverSpec(input.approvers, "approvers", this.approverOptions.max);
    const key = this.repo.openKey(base.storeId, base);
    let approvers: string[] | undefined;
    for (let i = 0; i < MAX_RETRIES; i++) {
      const lock = await this.repo.getOpen(key);
      const existing = lock ? await this.repo.get(lock.value) : undefined;
      if (existing?.value.status === "pending") return { request: existing.value, created: false };
      await this.refuseIfGranted(base);
      approvers ??= await this.resolve(base.storeId, base.requester, spec, "approvers");
      const stamp = { now: this.now(), eventId: this.newId() };
      const r = t.requested({ ...base, id: this.newId(), approverSpec: spec, approvers }, stamp);
      const fx = this.effects(r);
      await this.repo.putEffects(fx);
      await this.repo.create(r);
      // The lock is taken after the request exists, so it never points at nothing; whoever moves
      // it first wins and the other discards its request (before anyone was told of it).
      if (!(await this.repo.claimOpen(key, r.id, lock?.version ?? 0))) {
        await this.repo.discard(r);
        await this.repo.deleteEffects(fx.event.id);
        continue;
      }
      await this.apply(fx);
      return { request: r, created: true };
    }
    throw new TenetError("conflict", "too many concurrent requests for the same access; retry");
  }

  async approve(id: string, approver: string, justification: string, opts: InStore = {}): Promise<JitRequest> {
    subject(approver, "approver");
    text(justification, "justification");
    return this.mutate(id, opts, async (r, s) => {
      t.assertCanDecide(r, approver);
      const tuple = await this.tuples.plan(r, new Date(s.now + r.durationMs).toISOString());
      return t.approved(r, approver, justification, tuple, s);
    });
  }

  async deny(id: string, approver: string, justification: string, opts: InStore = {}): Promise<JitRequest> {
    subject(approver, "approver");
    text(justification, "justification");
    return this.mutate(id, opts, (r, s) => t.denied(r, approver, justification, s));
  }

  /** Ends a grant in force now (deletes its tuple). */
  async revoke(id: string, actor: string, justification: string, opts: InStore = {}): Promise<JitRequest> {
    subject(actor, "actor");
    text(justification, "justification");
    return this.mutate(id, opts, (r, s) => t.revoked(r, actor, justification, s));
  }

  /** Grants at once, for at most `breakGlassMaxDuration`; the grant must be reviewed afterwards. */
  async breakGlass(input: BreakGlassInput): Promise<JitRequest> {
    const base = await this.validateNew(input, this.breakGlassMaxDurationMs, "breakGlassMaxDuration");
    const spec = input.reviewers === undefined ? {} : validateApproverSpec(input.reviewers, "reviewers", this.approverOptions.max);
    await this.refuseIfGranted(base);
    const reviewers = input.reviewers === undefined ? [] : await this.resolve(base.storeId, base.requester, spec, "reviewers");
    const stamp = { now: this.now(), eventId: this.newId() };
    const draft = { ...base, id: this.newId(), approverSpec: spec, approvers: reviewers };
    const tuple = await this.tuples.plan(draft, new Date(stamp.now + base.durationMs).toISOString());
    const r = t.brokeGlass(draft, tuple, stamp);
    const fx = this.effects(r);
    await this.repo.putEffects(fx);
    await this.repo.create(r);
    await this.apply(fx);
    return (await this.repo.get(r.id))?.value ?? r;
  }

  /** The after-the-fact review of a break-glass grant; `revoked` ends it at once. */
  async review(id: string, reviewer: string, outcome: ReviewOutcome, justification: string, opts: InStore = {}): Promise<JitRequest> {
    subject(reviewer, "reviewer");
    if (outcome !== "upheld" && outcome !== "revoked") throw new TenetError("validation_error", "outcome must be 'upheld' or 'revoked'");
    text(justification, "justification");
    return this.mutate(id, opts, (r, s) => t.reviewed(r, reviewer, outcome, justification, s));
  }

  async get(id: string, opts: InStore = {}): Promise<JitRequest> {
    return (await this.find(id, opts)).value;
  }

  /** A store's requests in creation order, filtered; page with `after` = the previous `next`. */
  async list(filter: ListFilter): Promise<ListResult> {
    if (typeof filter?.storeId !== "string" || filter.storeId === "") throw new TenetError("validation_error", "storeId is required");
    if (filter.status !== undefined && !JIT_STATUSES.includes(filter.status)) {
      throw new TenetError("validation_error", `status must be one of ${JIT_STATUSES.join(", ")}`);
    }
    const asked = filter.limit ?? 50;
    if (!Number.isInteger(asked) || asked < 1) throw new TenetError("validation_error", "limit must be a positive integer");
    const limit = Math.min(asked, 100);
    const matches = (r: JitRequest) =>
      (filter.status === undefined || r.status === filter.status) &&
      (filter.requester === undefined || r.requester === filter.requester) &&
      (filter.approver === undefined || r.approvers.includes(filter.approver));
    const items: JitRequest[] = [];
    let after = filter.after;
    for (;;) {
      const page = await this.repo.page(filter.storeId, after);
      for (const r of page) {
        if (!matches(r)) continue;
        items.push(r);
        if (items.length === limit) return { items, next: r.id };
      }
      if (page.length < 200) return { items };
      after = page[page.length - 1]!.id;
    }
  }

  // ---- the decision path ----

  /**
   * The grant (approved or break-glass) of `subject` for `action` on `resource` in force at `now`,
   * from memory: null when there is none; undefined when the store's grants are not loaded yet
   * (await `activeGrant` once, which loads them).
   */
  activeGrantNow(storeId: string, subject: string, resource: string, action: string, now = this.now()): ActiveGrant | null | undefined {
    return this.index.find(storeId, subject, resource, action, now);
  }

  async activeGrant(storeId: string, subject: string, resource: string, action: string, now = this.now()): Promise<ActiveGrant | undefined> {
    if (!this.index.isLoaded(storeId)) await this.refresh(storeId);
    return this.index.find(storeId, subject, resource, action, now) ?? undefined;
  }

  /** Reloads the grants in force of one store, or of every store loaded (changes made by other replicas). */
  async refresh(storeId?: string): Promise<void> {
    const stores = storeId === undefined ? this.index.loadedStores() : [storeId];
    for (const s of stores) await this.index.load(s, () => this.repo.grants(s));
  }

  // ---- housekeeping ----

  /**
   * Marks grants past their expiry `expired` and deletes their tuples (the condition has made them
   * inert already), expires requests nobody decided within `pendingTtl`, and finishes operations a
   * crash interrupted.
   */
  async sweep(now = this.now()): Promise<SweepReport> {
    const report: SweepReport = { expired: 0, lapsed: 0, recovered: await this.recover(now) };
    for (const g of await this.repo.grants()) {
      if (now < Date.parse(g.expiresAt)) continue;
      if (await this.transitionIfStill(g.id, now, (r, s) => t.expired(r, s))) report.expired++;
    }
    for await (const id of this.repo.openRequestIds()) {
      const cur = await this.repo.get(id);
      if (!cur || cur.value.status !== "pending" || now < Date.parse(cur.value.createdAt) + this.pendingTtlMs) continue;
      if (await this.transitionIfStill(id, now, (r, s) => t.lapsed(r, this.pendingTtlMs, s))) report.lapsed++;
    }
    return report;
  }

  /** Finishes the effects of operations interrupted (by a crash) for longer than 30 s. Returns how many. */
  async recover(now = this.now()): Promise<number> {
    let n = 0;
    for await (const fx of this.repo.pendingEffects()) {
      if (now - Date.parse(fx.createdAt) < RECOVER_AFTER_MS) continue;
      const cur = await this.repo.get(fx.requestId);
      if (cur?.value.history.some((h) => h.eventId === fx.event.id)) {
        await this.apply(fx);
        n++;
      } else {
        // The change never committed: there is nothing to announce.
        await this.repo.deleteEffects(fx.event.id);
      }
    }
    return n;
  }

  /** A notice that is not a request's change (e.g. the access policy's notice to a manager). */
  notify(input: NotifyInput): Promise<TenetEvent> {
    return this.outbox.notify(input);
  }

  /** Refreshes the grants in memory every `refreshMs` and sweeps every `sweepMs`, until `stop()`. */
  start(opts: { refreshMs?: number; sweepMs?: number; onError?: (err: unknown) => void } = {}): void {
    if (this.timers.length > 0) return;
    const onError = opts.onError ?? (() => undefined);
    const every = (ms: number, fn: () => Promise<unknown>) => {
      let busy = false;
      const timer = setInterval(() => {
        if (busy) return;
        busy = true;
        fn()
          .catch(onError)
          .finally(() => {
            busy = false;
          });
      }, ms);
      timer.unref();
      this.timers.push(timer);
    };
    every(opts.refreshMs ?? 5000, () => this.refresh());
    every(opts.sweepMs ?? 30_000, () => this.sweep());
  }

  stop(): void {
    for (const timer of this.timers) clearInterval(timer);
    this.timers = [];
  }

  // ---- internals ----

  private async validateNew(input: JitRequestInput | BreakGlassInput, maxMs: number, maxKey: string) {
    if (typeof input !== "object" || input === null) throw new TenetError("validation_error", "a request must be an object");
    if (typeof input.storeId !== "string" || input.storeId === "") throw new TenetError("validation_error", "storeId is required");
    const requester = subject(input.requester, "requester");
    const resource = object(input.resource, "resource");
    const action = relation(input.action, "action");
    const reason = text(input.reason, "reason");
    const durationMs = parseDuration(input.duration, "duration");
    if (durationMs > maxMs) {
      throw new TenetError("validation_error", `duration '${input.duration}' is longer than the ${formatDuration(maxMs)} allowed (${maxKey}); ask for less`);
    }
    await this.policy.getStore(input.storeId);
    return { storeId: input.storeId, requester, resource, action, reason, duration: input.duration, durationMs };
  }

  private async resolve(storeId: string, requester: string, spec: ApproverSpec, where: string): Promise<string[]> {
    const found = await resolveApprovers(this.policy, storeId, requester, spec, this.approverOptions);
    if (found.length === 0) {
      throw new TenetError("validation_error", `the ${where} resolve to nobody other than the requester: name users, a group with members, or a manager recorded in the relationship graph`);
    }
    return found;
  }

  private async refuseIfGranted(r: { storeId: string; requester: string; resource: string; action: string }): Promise<void> {
    const g = await this.activeGrant(r.storeId, r.requester, r.resource, r.action);
    if (g) throw new TenetError("conflict", `${r.requester} already holds this access through JIT request ${g.id} until ${g.expiresAt}`);
  }

  private async find(id: string, opts: InStore): Promise<Versioned<JitRequest>> {
    if (typeof id !== "string" || id === "" || id.length > 64) throw new TenetError("validation_error", "a JIT request id is required");
    const cur = await this.repo.get(id);
    if (!cur || (opts.storeId !== undefined && cur.value.storeId !== opts.storeId)) throw new TenetError("not_found", `JIT request '${id}' not found`);
    return cur;
  }

  /**
   * Applies `change` with a compare-and-set, retrying on a lost race with the new state (where the
   * change's own checks refuse what is no longer allowed), then applies its effects.
   */
  private async mutate(id: string, opts: InStore, change: (r: JitRequest, s: t.Stamp) => JitRequest | Promise<JitRequest>, now?: number): Promise<JitRequest> {
    for (let i = 0; i < MAX_RETRIES; i++) {
      const cur = await this.find(id, opts);
      const next = await change(cur.value, { now: now ?? this.now(), eventId: this.newId() });
      const fx = this.effects(next);
      await this.repo.putEffects(fx);
      try {
        await this.repo.replace(next, cur.version);
      } catch (err) {
        if (!(err instanceof DocumentConflict)) throw err;
        await this.repo.deleteEffects(fx.event.id);
        continue;
      }
      await this.apply(fx);
      return (await this.repo.get(id))?.value ?? next;
    }
    throw new TenetError("conflict", `JIT request '${id}' is changing too often to update; retry`);
  }

  /** For the sweeper: applies `change` unless the request has moved on; then reconciles anyway. */
  private async transitionIfStill(id: string, now: number, change: (r: JitRequest, s: t.Stamp) => JitRequest): Promise<boolean> {
    try {
      await this.mutate(id, {}, change, now);
      return true;
    } catch (err) {
      if (!(err instanceof TenetError) || (err.code !== "conflict" && err.code !== "not_found")) throw err;
      await this.reconcile(id);
      return false;
    }
  }

  private effects(r: JitRequest): PendingEffects {
    const entry = r.history[r.history.length - 1]!;
    return { storeId: r.storeId, requestId: r.id, event: jitEvent(r, entry), createdAt: new Date(this.now()).toISOString() };
  }

  private async apply(fx: PendingEffects): Promise<void> {
    await this.outbox.enqueue(fx.event);
    await this.reconcile(fx.requestId);
    await this.repo.deleteEffects(fx.event.id);
  }

  /**
   * Makes the grant index and the tuple match the request's state: present while the grant is
   * open (approved or break-glass, not ended), absent otherwise. Idempotent; repeated until the
   * request did not change meanwhile, so concurrent reconcilers converge on the newest state.
   */
  private async reconcile(id: string): Promise<void> {
    for (let i = 0; i < MAX_RETRIES; i++) {
      const cur = await this.repo.get(id);
      if (!cur) return;
      const r = cur.value;
      if ((r.status === "approved" || r.status === "break_glass") && r.grant && r.grant.endedAt === undefined) {
        const g: ActiveGrant = { id: r.id, storeId: r.storeId, kind: r.kind, requester: r.requester, resource: r.resource, action: r.action, grantedAt: r.grant.grantedAt, expiresAt: r.grant.expiresAt };
        await this.repo.putGrant(g);
        this.index.set(g);
        if (r.grant.tuple.written) {
          const failure = await this.tuples.write(r);
          if (failure) {
            // The model changed, or a tuple appeared, since the approval was planned: record it.
            const next = { ...r, grant: { ...r.grant, tuple: { written: false, reason: failure } } };
            try {
              await this.repo.replace(next, cur.version);
            } catch (err) {
              if (!(err instanceof DocumentConflict)) throw err;
            }
            continue;
          }
        }
      } else {
        await this.repo.deleteGrant(r.storeId, r.id);
        this.index.remove(r.storeId, r.id);
        if (r.grant?.tuple.written) await this.tuples.delete(r);
      }
      const after = await this.repo.get(id);
      if (after?.version === cur.version) return;
    }
  }
}
