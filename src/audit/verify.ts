/**
 * Verification of the stored audit log against its signed checkpoints: recomputes every leaf
 * hash from the stored event bytes and the tree from the leaves, and compares the tree at each
 * checkpoint's size with the root the checkpoint signed.
 *
 * What it tells apart, and how it says which entry:
 * - **modified**: an event whose bytes no longer hash to its stored leaf hash (that seq); or, when
 *   the attacker also fixed the leaf hash, a checkpoint whose root no longer matches (the range
 *   between the last matching checkpoint and it);
 * - **removed**: a gap in the sequence numbers (the missing seqs);
 * - **inserted / reordered**: an event whose own `metadata.sequence` is not the seq it is stored
 *   at (each event records its position when it is appended);
 * - **bad checkpoints**: a signature that does not verify with the log's public key, or a note
 *   whose size or root disagrees with its row;
 * - **unsigned tail**: entries after the last checkpoint (at most one checkpoint interval; not an
 *   error, but not yet provable).
 */
import type { AuditBackend, AuditCheckpointRow } from "../storage/interfaces.js";
import { leafHashOfText, sameHash } from "./merkle.js";
import { Tree } from "./tree.js";

export type ProblemKind = "modified" | "removed" | "inserted_or_reordered" | "checkpoint_mismatch" | "bad_checkpoint" | "count_mismatch";

export interface VerifyProblem {
  kind: ProblemKind;
  /** The entry (or first entry of a range) concerned. */
  seq?: number;
  /** For ranges: entries [seq, endSeq). */
  endSeq?: number;
  /** For checkpoint problems: the checkpoint's size. */
  checkpointSize?: number;
  message: string;
}

export interface VerifyReport {
  ok: boolean;
  /** Entries read and hashed. */
  entries: number;
  /** The log's size (entries ever appended, pruned ones included). */
  size: number;
  /** First seq kept (entries before it were pruned under a signed checkpoint). */
  prunedBefore: number;
  checkpoints: number;
  /** The largest checkpoint that verified and matched. */
  verifiedSize: number;
  /** Entries after the last checkpoint: stored, not yet signed. */
  unsignedTail: number;
  problems: VerifyProblem[];
  ms: number;
}

/** Parses and verifies a checkpoint note with the log's public key; throws if it does not verify. */
export type NoteVerifier = (note: string) => { size: number; rootHash: Uint8Array };

const MAX_PROBLEMS = 1000;
/** Pages asked for before the one being hashed is done (see the loop). */
const PAGES_AHEAD = 2;

export async function verifyAuditLog(backend: AuditBackend, verifyNote: NoteVerifier, opts: { pageSize?: number; onProgress?: (done: number, total: number) => void } = {}): Promise<VerifyReport> {
  const started = performance.now();
  // Pages of ~2 MB of events: they die young (cheap scavenges) instead of being promoted and
  // collected by full GCs, which took a quarter of the time at 10,000 per page.
  const page = opts.pageSize ?? 1000;
  const head = await backend.auditHead();
  const problems: VerifyProblem[] = [];
  const report = (p: VerifyProblem) => {
    if (problems.length < MAX_PROBLEMS) problems.push(p);
  };

  // Every checkpoint, verified up front; the ones that fail are reported and not relied on.
  const checkpoints: AuditCheckpointRow[] = [];
  const start = head.pruned?.size ?? 0;
  if (head.pruned) checkpoints.push(head.pruned.checkpoint);
  for (let from = start; ; ) {
    const list = await backend.listAuditCheckpoints(from, 1000);
    checkpoints.push(...list.filter((c) => c.size >= start && !(head.pruned && c.size === head.pruned.size)));
    if (list.length < 1000) break;
    from = list[list.length - 1]!.size + 1;
  }
  const good = new Map<number, Uint8Array>();
  for (const cp of checkpoints) {
    try {
      const signed = verifyNote(cp.note);
      if (signed.size !== cp.size || !sameHash(signed.rootHash, cp.rootHash)) {
        report({ kind: "bad_checkpoint", checkpointSize: cp.size, message: `checkpoint row ${cp.size} does not match its own signed note (size ${signed.size})` });
        continue;
      }
      good.set(cp.size, signed.rootHash);
    } catch (err) {
      report({ kind: "bad_checkpoint", checkpointSize: cp.size, message: `checkpoint at ${cp.size}: ${err instanceof Error ? err.message : String(err)}` });
    }
  }
  const sizes = [...good.keys()].sort((a, b) => a - b);

  let tree: Tree;
  if (head.pruned) {
    tree = Tree.fromCompactRange(head.pruned.size, head.pruned.subtrees);
    const signed = good.get(head.pruned.size);
    if (signed && !sameHash(tree.root(), signed)) report({ kind: "checkpoint_mismatch", checkpointSize: head.pruned.size, message: `the summary of the pruned entries [0, ${head.pruned.size}) does not match its signed checkpoint` });
  } else tree = new Tree();

  let entries = 0;
  let verifiedSize = head.pruned && good.has(head.pruned.size) ? head.pruned.size : 0;
  let lastGood = verifiedSize;
  let nextCp = 0;
  while (nextCp < sizes.length && sizes[nextCp]! <= tree.size) nextCp++;
  let broken = false; // once entries are missing, later roots cannot be computed

  const checkAt = () => {
    while (nextCp < sizes.length && sizes[nextCp]! === tree.size) {
      const size = sizes[nextCp++]!;
      if (broken) continue;
      if (sameHash(tree.root(), good.get(size)!)) {
        verifiedSize = size;
        lastGood = size;
      } else {
        report({ kind: "checkpoint_mismatch", seq: lastGood, endSeq: size, checkpointSize: size, message: `entries [${lastGood}, ${size}) are not the ones checkpoint ${size} signed: at least one was changed, removed, inserted or reordered` });
        broken = true;
      }
    }
  };

  let expected = start;
  // The next page is asked for before this one is hashed: a remote database (PostgreSQL) reads
  // and sends it meanwhile.
  const read = (from: number) => {
    if (from >= head.size) return undefined;
    const p = backend.readAuditEvents(from, Math.min(page, head.size - from));
    p.catch(() => undefined); // awaited below; never an unhandled rejection meanwhile
    return p;
  };
  const ahead = Array.from({ length: PAGES_AHEAD }, (_, i) => read(start + i * page));
  for (let from = start; from < head.size; from += page) {
    const rows = await ahead.shift()!;
    ahead.push(read(from + PAGES_AHEAD * page));
    for (const r of rows) {
      if (r.seq > expected) {
        report({ kind: "removed", seq: expected, endSeq: r.seq, message: `entries [${expected}, ${r.seq}) are missing` });
        broken = true;
      }
      expected = r.seq + 1;
      entries++;
      const computed = leafHashOfText(r.event);
      if (!sameHash(computed, r.leafHash)) report({ kind: "modified", seq: r.seq, message: `entry ${r.seq} was changed: its event no longer hashes to its leaf hash` });
      // The position each event recorded when it was appended: the first `"sequence":` is the
      // one in `metadata` (it comes before anything a caller wrote; their quotes are escaped).
      const at = r.event.indexOf('"sequence":');
      if (at < 0 || !r.event.startsWith(`${r.seq},"logged_time":`, at + 11)) report({ kind: "inserted_or_reordered", seq: r.seq, message: `entry ${r.seq} was not appended at this position (inserted, moved or renumbered)` });
      if (!broken) {
        tree.append(computed);
        checkAt();
      }
    }
    opts.onProgress?.(expected - start, head.size - start);
  }
  if (expected < head.size) {
    report({ kind: "removed", seq: expected, endSeq: head.size, message: `entries [${expected}, ${head.size}) are missing` });
    broken = true;
  }
  const lastSigned = sizes.length > 0 ? sizes[sizes.length - 1]! : 0;
  if (lastSigned > head.size) report({ kind: "count_mismatch", checkpointSize: lastSigned, message: `a checkpoint signs ${lastSigned} entries but the log has ${head.size}: entries were removed from the end` });
  return {
    ok: problems.length === 0,
    entries,
    size: head.size,
    prunedBefore: start,
    checkpoints: checkpoints.length,
    verifiedSize,
    unsignedTail: Math.max(0, head.size - Math.max(lastSigned, start)),
    problems,
    ms: performance.now() - started,
  };
}
