/**
 * The audit plane put together over one datastore: the master key (env or data-dir file), the
 * checkpoint signing key and the HMAC key for sensitive values (both sealed with the master key
 * in the documents storage), the log itself, and the recorders the decision point and the domain
 * services write through.
 */
import { randomBytes } from "node:crypto";
import { loadMasterKey, type MasterKey } from "../crypto/master-key.js";
import { DocumentConflict, type Datastore, type DocumentsBackend } from "../storage/interfaces.js";
import { AuditWriterThread } from "./sqlite-writer-thread.js";
import type { SqliteDatastore } from "../storage/sqlite/sqlite-datastore.js";
import { AuditChangeRecorder } from "./change-recorder.js";
import { signCheckpoint, verifyCheckpoint } from "./checkpoint.js";
import { AuditDecisionRecorder } from "./decision-recorder.js";
import { Sensitive } from "./events.js";
import { AuditLog, type AuditLogOptions } from "./log.js";
import { AUDIT_KEYS, loadOrCreateSigningKey } from "./signing-key.js";
import type { NoteVerifier } from "./verify.js";

const HMAC_KEY_ID = "sensitive-hmac";
const HMAC_KEY_PURPOSE = "tenet/audit-hmac-key/v1";

export interface AuditPlane {
  log: AuditLog;
  decisions: AuditDecisionRecorder;
  changes: AuditChangeRecorder;
  sensitive: Sensitive;
  publicKey: { name: string; vkey: string };
  /** Verifies a checkpoint note of this log with its public key. */
  verifyNote: NoteVerifier;
  warnings: string[];
  close(): Promise<void>;
}

export interface AuditPlaneOptions extends Pick<AuditLogOptions, "checkpointEvery" | "checkpointIntervalMs" | "maxBatch" | "maxQueue" | "onFailure" | "now"> {
  dataDir: string;
  env?: Record<string, string | undefined>;
  /** The log's identity in checkpoints (and the signing key's name). */
  origin?: string;
  /** SQLite: write on a worker thread (default true). */
  writerThread?: boolean;
}

export async function openAuditPlane(ds: Datastore, opts: AuditPlaneOptions): Promise<AuditPlane> {
  const master = await loadMasterKey({ dataDir: opts.dataDir, env: opts.env ?? process.env });
  const warnings = [...master.warnings];
  const origin = opts.origin ?? "tenet/audit";
  const { key } = await loadOrCreateSigningKey(ds, master.key, { name: origin });
  const sensitive = new Sensitive(await loadOrCreateHmacKey(ds, master.key));
  // SQLite: the audit writes on a thread of their own (the second core); reads stay here.
  const writer = ds.kind === "sqlite" && opts.writerThread !== false ? new AuditWriterThread(ds, (ds as SqliteDatastore).file) : undefined;
  const logOpts: AuditLogOptions = {
    backend: writer ?? ds,
    eventWriter: writer,
    // Replicas share a PostgreSQL log; an embedded SQLite log has one writer.
    sharedWriters: ds.kind === "postgres",
    signer: { sign: ({ size, rootHash }) => signCheckpoint({ origin: key.name, size, rootHash }, key.signer) },
  };
  for (const k of ["checkpointEvery", "checkpointIntervalMs", "maxBatch", "maxQueue", "onFailure", "now"] as const) {
    if (opts[k] !== undefined) (logOpts as unknown as Record<string, unknown>)[k] = opts[k];
  }
  const log = await AuditLog.open(logOpts);
  return {
    log,
    decisions: new AuditDecisionRecorder(log, sensitive),
    changes: new AuditChangeRecorder(log, sensitive),
    sensitive,
    publicKey: { name: key.name, vkey: key.vkey },
    verifyNote: (note) => verifyCheckpoint(note, key.verifier, { origin: key.name }),
    warnings,
    close: async () => {
      await log.close();
      await writer?.close();
    },
  };
}

/**
 * The key of the HMACs that stand for sensitive values: random, made once per deployment, sealed
 * with the master key (so a copy of the database alone cannot test guesses against the HMACs).
 */
async function loadOrCreateHmacKey(docs: DocumentsBackend, master: MasterKey): Promise<Uint8Array> {
  for (let attempt = 0; attempt < 2; attempt++) {
    const doc = await docs.getDocument(AUDIT_KEYS, HMAC_KEY_ID);
    if (doc) return master.open(HMAC_KEY_PURPOSE, (doc.body as { sealed: unknown }).sealed);
    const key = randomBytes(32);
    try {
      await docs.putDocument(AUDIT_KEYS, HMAC_KEY_ID, { sealed: master.seal(HMAC_KEY_PURPOSE, key) }, 0);
      return key;
    } catch (err) {
      // Another replica made it first: use theirs.
      if (!(err instanceof DocumentConflict)) throw err;
    }
  }
  throw new Error("the audit HMAC key could not be created or read");
}
