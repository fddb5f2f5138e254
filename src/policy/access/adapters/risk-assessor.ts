/**
 * The decision point's RiskAssessor over the risk engine: the engine is synchronous and pure, but
 * it needs the subject's sign-in history, which lives in storage. The histories are kept in a
 * small in-memory cache, so a decision for a subject seen in the last few seconds is assessed
 * without a promise; otherwise `assessNow` says "not loaded" (undefined) and `prepare` loads it.
 *
 * The cache is bounded (oldest entry dropped first) and entries are trusted for `ttlMs` only, so
 * sign-ins and credential flags recorded by other replicas count within that time. When the
 * history store fails, the subject is cached as "history unknown" for the same time: the signals
 * then treat the subject with more caution (flagged_credential's historyUnavailableScore) instead
 * of failing every decision, and storage is not hammered while it is down.
 */
import type { RiskEngine } from "../../risk/engine.js";
import type { HistoryStore } from "../../risk/history.js";
import type { RiskInput, SubjectHistory } from "../../risk/types.js";
import type { RiskAssessor } from "../decision-point.js";
import type { AccessRequest, RiskAssessment } from "../types.js";

export interface HistoryCacheOptions {
  /** How long a loaded history is used (ms, default 5000). */
  ttlMs?: number;
  /** Subjects kept at most (default 10 000). */
  maxSubjects?: number;
  /** The cache's clock (default Date.now); the decision's own time is only the engine's input. */
  now?: () => number;
  /** The history store failed (the subject is assessed as "history unknown" meanwhile). */
  onError?: (err: unknown, subjectId: string) => void;
}

interface Entry {
  /** Undefined: the store failed, nothing is known. */
  history: SubjectHistory | undefined;
  loadedAt: number;
}

export class EngineRiskAssessor implements RiskAssessor {
  readonly #engine: RiskEngine;
  readonly #store: HistoryStore;
  readonly #ttlMs: number;
  readonly #max: number;
  readonly #clock: () => number;
  readonly #onError: (err: unknown, subjectId: string) => void;
  /** Insertion order = age: the first key is the oldest load. */
  readonly #cache = new Map<string, Entry>();
  /** One load per subject at a time, however many decisions wait for it. */
  readonly #loading = new Map<string, Promise<void>>();

  constructor(engine: RiskEngine, history: HistoryStore, opts: HistoryCacheOptions = {}) {
    if (engine === null || typeof engine !== "object" || typeof engine.assess !== "function") throw new TypeError("engine must be a RiskEngine");
    if (history === null || typeof history !== "object" || typeof history.get !== "function") throw new TypeError("history must be a HistoryStore");
    this.#engine = engine;
    this.#store = history;
    this.#ttlMs = positiveInt(opts.ttlMs, 5000, "ttlMs");
    this.#max = positiveInt(opts.maxSubjects, 10_000, "maxSubjects");
    this.#clock = opts.now ?? Date.now;
    this.#onError = opts.onError ?? (() => undefined);
  }

  /** Subjects cached now (for tests and metrics). */
  get size(): number {
    return this.#cache.size;
  }

  assessNow(req: AccessRequest, now: number): RiskAssessment | undefined {
    const entry = this.#cache.get(req.subject.id);
    if (entry === undefined || this.#clock() - entry.loadedAt > this.#ttlMs) return undefined;
    const input: RiskInput = { subject: req.subject, resource: req.resource, now };
    if (req.device !== undefined) input.device = req.device;
    if (req.request !== undefined) input.request = req.request;
    if (entry.history !== undefined) input.history = entry.history;
    return this.#engine.assess(input);
  }

  prepare(req: AccessRequest): Promise<void> {
    const id = req.subject.id;
    let pending = this.#loading.get(id);
    if (pending === undefined) {
      pending = this.#load(id).finally(() => this.#loading.delete(id));
      this.#loading.set(id, pending);
    }
    return pending;
  }

  async #load(id: string): Promise<void> {
    let history: SubjectHistory | undefined;
    try {
      history = await this.#store.get(id);
    } catch (err) {
      this.#onError(err, id);
      history = undefined;
    }
    this.#cache.delete(id);
    this.#cache.set(id, { history, loadedAt: this.#clock() });
    if (this.#cache.size > this.#max) this.#cache.delete(this.#cache.keys().next().value as string);
  }
}

function positiveInt(value: number | undefined, fallback: number, key: string): number {
  if (value === undefined) return fallback;
  if (!Number.isInteger(value) || value <= 0) throw new TypeError(`${key} must be a positive integer`);
  return value;
}
