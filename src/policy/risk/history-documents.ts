/**
 * A HistoryStore over the documents storage (SQLite or PostgreSQL through DocumentsBackend),
 * one document per subject in the `risk_history` collection, shared by every replica.
 *
 * Updates are read-modify-write with the document's version as the guard: when another replica
 * wrote first, putDocument throws DocumentConflict and the update is redone on the fresh copy,
 * so concurrent sign-ins are never lost. Within one process, updates of a subject are queued
 * one after the other first: a brute-force attack sends many failed sign-ins for one subject at
 * once, and letting them all race would turn each into a string of conflicts. Bodies read back
 * are normalised, never trusted.
 */
import { TenetError } from "../../errors.js";
import { DocumentConflict, type DocumentsBackend } from "../../storage/interfaces.js";
import { parseRiskConfig, type RiskConfig } from "./config.js";
import { applySignIn, checkSignInEvent, historyLimits, normalizeHistory, type HistoryLimits, type HistoryStore, type SignInEvent, type StoredHistory } from "./history.js";

export const RISK_HISTORY_COLLECTION = "risk_history";

/** Conflicts in a row before giving up: only a subject hammered from many replicas gets there. */
const MAX_ATTEMPTS = 10;

export class DocumentHistoryStore implements HistoryStore {
  readonly #docs: DocumentsBackend;
  readonly #limits: HistoryLimits;
  /** The tail of each subject's queue of updates in this process. */
  readonly #queues = new Map<string, Promise<void>>();

  constructor(docs: DocumentsBackend, config: RiskConfig = parseRiskConfig({})) {
    if (docs === null || typeof docs !== "object" || typeof docs.putDocument !== "function") throw new TypeError("docs must be a DocumentsBackend");
    this.#docs = docs;
    this.#limits = historyLimits(config);
  }

  async get(subjectId: string): Promise<StoredHistory> {
    checkSubject(subjectId);
    const doc = await this.#docs.getDocument(RISK_HISTORY_COLLECTION, subjectId);
    return normalizeHistory(doc?.body);
  }

  async recordSignIn(e: SignInEvent): Promise<void> {
    checkSignInEvent(e);
    await this.#update(e.subjectId, (h) => applySignIn(h, e, this.#limits));
  }

  async flagCredential(subjectId: string, flag: { time: number; reason?: string }): Promise<void> {
    checkSubject(subjectId);
    await this.#update(subjectId, (h) => ({
      ...h,
      credential: flag.reason === undefined ? { flagged: true, flaggedAt: flag.time } : { flagged: true, reason: flag.reason, flaggedAt: flag.time },
    }));
  }

  async clearCredentialFlag(subjectId: string): Promise<void> {
    checkSubject(subjectId);
    await this.#update(subjectId, (h) => {
      const { credential: _dropped, ...rest } = h;
      return rest;
    });
  }

  #update(subjectId: string, change: (h: StoredHistory) => StoredHistory): Promise<void> {
    const prev = this.#queues.get(subjectId) ?? Promise.resolve();
    const run = prev.then(() => this.#write(subjectId, change));
    // The queue continues whether this update succeeded or not; the caller sees its own outcome.
    const tail = run.catch(() => undefined);
    this.#queues.set(subjectId, tail);
    void tail.then(() => {
      if (this.#queues.get(subjectId) === tail) this.#queues.delete(subjectId);
    });
    return run;
  }

  async #write(subjectId: string, change: (h: StoredHistory) => StoredHistory): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      const doc = await this.#docs.getDocument(RISK_HISTORY_COLLECTION, subjectId);
      const next = change(normalizeHistory(doc?.body));
      try {
        await this.#docs.putDocument(RISK_HISTORY_COLLECTION, subjectId, next, doc?.version ?? 0);
        return;
      } catch (err) {
        if (!(err instanceof DocumentConflict)) throw err;
        if (attempt >= MAX_ATTEMPTS) {
          throw new TenetError("unavailable", `the sign-in history of ${subjectId} kept changing under ${MAX_ATTEMPTS} concurrent updates; try again`, { cause: err });
        }
        // Another replica is writing the same subject: step aside a little, differently each
        // time, so the two do not collide again in lock step.
        await sleep(Math.random() * 5 * attempt);
      }
    }
  }
}

const sleep = (ms: number): Promise<void> => new Promise((done) => setTimeout(done, ms));

function checkSubject(subjectId: string): void {
  if (typeof subjectId !== "string" || subjectId === "") throw new TypeError("subjectId must be a non-empty string");
}
