/**
 * Each sink's cursor — the next seq to deliver — is a document (collection
 * `audit-export-cursors`, id = sink name), written only after the receiver acknowledged what
 * comes before it. After a restart delivery resumes there: entries may be delivered twice (those
 * acknowledged but not yet recorded), never lost.
 */
import { DocumentConflict, type DocumentsBackend } from "../../storage/interfaces.js";

export const CURSOR_COLLECTION = "audit-export-cursors";

export interface CursorDocument {
  /** The next seq to deliver. */
  next: number;
  /** The sink's type when last written (for operators reading the collection). */
  type: string;
  updatedAt: string;
}

export class CursorStore {
  /** Versions of the documents this process read or wrote, for compare-and-set writes. */
  private readonly versions = new Map<string, number>();

  constructor(
    private readonly docs: DocumentsBackend,
    private readonly now: () => number = Date.now,
  ) {}

  /** The stored cursor, or undefined for a sink that never delivered anything. */
  async load(name: string): Promise<number | undefined> {
    const doc = await this.docs.getDocument<CursorDocument>(CURSOR_COLLECTION, name);
    this.versions.set(name, doc?.version ?? 0);
    return doc?.body.next;
  }

  /**
   * Records `next`. If another process moved the cursor meanwhile (a second exporter for the same
   * sink), the larger value wins and is returned: whatever it delivered is delivered.
   */
  async save(name: string, type: string, next: number): Promise<number> {
    for (let attempt = 0; ; attempt++) {
      const version = this.versions.get(name) ?? 0;
      const body: CursorDocument = { next, type, updatedAt: new Date(this.now()).toISOString() };
      try {
        this.versions.set(name, await this.docs.putDocument(CURSOR_COLLECTION, name, body, version));
        return next;
      } catch (err) {
        if (!(err instanceof DocumentConflict) || attempt >= 5) throw err;
        const stored = await this.docs.getDocument<CursorDocument>(CURSOR_COLLECTION, name);
        this.versions.set(name, stored?.version ?? 0);
        if (stored && stored.body.next >= next) return stored.body.next;
      }
    }
  }
}
