/**
 * Checkpoints (c2sp.org/tlog-checkpoint): a log's tree head as the text of a signed note.
 *
 *     <origin>\n<tree size, decimal>\n<base64 RFC 6962 root hash>\n[<extension line>\n ...]
 *
 * then a blank line and the signature lines (signed-note.ts). The origin identifies the log;
 * the log's key name SHOULD equal it. Parsing is strict: anything but exactly this is refused
 * with a message saying what is wrong.
 */
import { HASH_SIZE } from "./merkle.js";
import { controlCharacter, decodeBase64, type Note, NoteError, type NoteSignature, type NoteSigner, parseNote, signNote, type VerifierKey, verifyNoteSignatures } from "./signed-note.js";

export interface Checkpoint {
  /** The log's identity, e.g. `tenet.example.com/audit`. */
  origin: string;
  /** Entries in the tree. */
  size: number;
  /** MTH of the first `size` entries (32 bytes). */
  rootHash: Uint8Array;
  /** Opaque extra lines (NOT RECOMMENDED by the spec; kept for notes of other logs). */
  extensions?: readonly string[];
}

export interface ParsedCheckpoint {
  origin: string;
  size: number;
  rootHash: Buffer;
  extensions: string[];
  /** The signed text. */
  text: string;
  signatures: NoteSignature[];
}

export interface VerifiedCheckpoint {
  origin: string;
  size: number;
  rootHash: Buffer;
  extensions: string[];
  /** The signatures that verified (by the keys given). */
  verified: NoteSignature[];
}

const SIZE = /^(?:0|[1-9][0-9]*)$/;

/** The checkpoint's note text (what is signed). */
export function formatCheckpoint(cp: Checkpoint): string {
  if (typeof cp.origin !== "string" || cp.origin === "" || !isLine(cp.origin)) {
    throw new TypeError("checkpoint origin must be a non-empty line without control characters");
  }
  if (!Number.isSafeInteger(cp.size) || cp.size < 0) throw new TypeError("checkpoint size must be a non-negative integer");
  if (!(cp.rootHash instanceof Uint8Array) || cp.rootHash.length !== HASH_SIZE) throw new TypeError(`checkpoint rootHash must be ${HASH_SIZE} bytes`);
  const extensions = cp.extensions ?? [];
  for (const e of extensions) {
    if (typeof e !== "string" || e === "" || !isLine(e)) throw new TypeError("checkpoint extension lines must be non-empty lines without control characters");
  }
  return `${cp.origin}\n${cp.size}\n${Buffer.from(cp.rootHash).toString("base64")}\n${extensions.map((e) => `${e}\n`).join("")}`;
}

/** Signs the checkpoint; returns the note (text, blank line, one signature line per signer). */
export function signCheckpoint(cp: Checkpoint, signer: NoteSigner | readonly NoteSigner[]): string {
  return signNote(formatCheckpoint(cp), signer);
}

/** Parses a checkpoint note without checking its signatures; throws NoteError("malformed"). */
export function parseCheckpoint(note: string | Uint8Array): ParsedCheckpoint {
  return parseCheckpointText(parseNote(note));
}

/**
 * Parses the note, checks its signatures (see openNote: a bad signature by a known key rejects
 * it, and at least one known key must have signed) and, if `opts.origin` is given, that it is a
 * checkpoint of that log. Returns the tree head; throws NoteError otherwise.
 */
export function verifyCheckpoint(note: string | Uint8Array, keys: VerifierKey | readonly VerifierKey[], opts: { origin?: string } = {}): VerifiedCheckpoint {
  // The body is parsed before signatures are checked: a malformed checkpoint is reported as
  // such even when it is signed.
  const parsed = parseNote(note);
  const cp = parseCheckpointText(parsed);
  const verified = verifyNoteSignatures(parsed, keys);
  if (opts.origin !== undefined && cp.origin !== opts.origin) {
    throw new NoteError("wrong_origin", `the checkpoint is of log ${JSON.stringify(cp.origin)}, not ${JSON.stringify(opts.origin)}`);
  }
  return { origin: cp.origin, size: cp.size, rootHash: cp.rootHash, extensions: cp.extensions, verified };
}

function parseCheckpointText(note: Note): ParsedCheckpoint {
  const lines = note.text.slice(0, -1).split("\n");
  if (lines.length < 3) throw malformed(`the text has ${lines.length} line${lines.length === 1 ? "" : "s"}; a checkpoint needs origin, tree size and root hash`);
  const [origin, size, root, ...extensions] = lines as [string, string, string, ...string[]];
  if (origin === "") throw malformed("line 1 (origin) is empty");
  if (!SIZE.test(size)) throw malformed("line 2 (tree size) must be a decimal number without leading zeros");
  const n = Number(size);
  if (!Number.isSafeInteger(n)) throw malformed(`line 2 (tree size) ${size} is too large`);
  const rootHash = decodeBase64(root);
  if (rootHash === undefined) throw malformed("line 3 (root hash) is not standard base64");
  if (rootHash.length !== HASH_SIZE) throw malformed(`line 3 (root hash) is ${rootHash.length} bytes, not ${HASH_SIZE} (SHA-256)`);
  const empty = extensions.findIndex((e) => e === "");
  if (empty >= 0) throw malformed(`line ${empty + 4} (extension) is empty`);
  return { origin, size: n, rootHash, extensions, text: note.text, signatures: note.signatures };
}

/** Text of one line: no newline, no other control character. */
function isLine(s: string): boolean {
  return !s.includes("\n") && controlCharacter(s) < 0;
}

function malformed(what: string): NoteError {
  return new NoteError("malformed", `malformed checkpoint: ${what}`);
}
