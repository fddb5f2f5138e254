/**
 * A HistoryStore in process memory, bounded twice: each history by the limits (history.ts) and
 * the number of subjects by `history.maxSubjects`, the least recently used dropped first. For
 * tests, demos and single-replica deployments that can afford to forget on restart.
 */
import { parseRiskConfig, type RiskConfig } from "./config.js";
import { applySignIn, checkSignInEvent, copyHistory, emptyHistory, historyLimits, type HistoryLimits, type HistoryStore, type SignInEvent, type StoredHistory } from "./history.js";

export class MemoryHistoryStore implements HistoryStore {
  readonly #limits: HistoryLimits;
  readonly #maxSubjects: number;
  /** Insertion order = recency: a touched subject is re-inserted at the end. */
  readonly #subjects = new Map<string, StoredHistory>();

  constructor(config: RiskConfig = parseRiskConfig({})) {
    this.#limits = historyLimits(config);
    this.#maxSubjects = config.history.maxSubjects;
  }

  get size(): number {
    return this.#subjects.size;
  }

  async get(subjectId: string): Promise<StoredHistory> {
    const h = this.#subjects.get(subjectId);
    return h === undefined ? emptyHistory() : copyHistory(h);
  }

  async recordSignIn(e: SignInEvent): Promise<void> {
    checkSignInEvent(e);
    this.#put(e.subjectId, applySignIn(this.#subjects.get(e.subjectId) ?? emptyHistory(), e, this.#limits));
  }

  async flagCredential(subjectId: string, flag: { time: number; reason?: string }): Promise<void> {
    if (typeof subjectId !== "string" || subjectId === "") throw new TypeError("subjectId must be a non-empty string");
    const h = { ...(this.#subjects.get(subjectId) ?? emptyHistory()) };
    h.credential = flag.reason === undefined ? { flagged: true, flaggedAt: flag.time } : { flagged: true, reason: flag.reason, flaggedAt: flag.time };
    this.#put(subjectId, h);
  }

  async clearCredentialFlag(subjectId: string): Promise<void> {
    const h = this.#subjects.get(subjectId);
    if (h === undefined || h.credential === undefined) return;
    const { credential: _dropped, ...rest } = h;
    this.#put(subjectId, rest);
  }

  #put(subjectId: string, h: StoredHistory): void {
    this.#subjects.delete(subjectId);
    this.#subjects.set(subjectId, h);
    if (this.#subjects.size > this.#maxSubjects) this.#subjects.delete(this.#subjects.keys().next().value as string);
  }
}
