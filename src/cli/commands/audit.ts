/**
 * `tenet audit verify|proof|query`: the audit log from the command line, straight from storage
 * (no server needed).
 *
 *   verify [--key VKEY]            recompute the tree from every stored entry and check every
 *                                  checkpoint; exit 1 if anything was changed, removed, inserted
 *                                  or reordered (and say which)
 *   proof SEQ [--size N] [--key]   print an entry's inclusion proof and check it against the
 *                                  signed checkpoint of size N (default the latest)
 *   query [--from T] [--to T] [--type T] [--store ID] [--subject S] [--resource R]
 *         [--decision D] [--policy P] [--limit N] [--desc]
 *                                  print matching entries as JSON lines
 *
 * The verifier key comes from `--key` or TENET_AUDIT_PUBLIC_KEY when given: pin it from a copy
 * kept elsewhere, because a key read from the same database an attacker could have rewritten
 * proves less. Without it the stored public key is used, and verify says so.
 */
import { verifyCheckpoint } from "../../audit/checkpoint.js";
import { leafHash, verifyInclusion } from "../../audit/merkle.js";
import { parseVerifierKey, type VerifierKey } from "../../audit/signed-note.js";
import { readSigningPublicKey } from "../../audit/signing-key.js";
import { Tree } from "../../audit/tree.js";
import { verifyAuditLog } from "../../audit/verify.js";
import { TenetError } from "../../errors.js";
import type { Datastore } from "../../storage/interfaces.js";
import type { Io } from "../main.js";
import { flagValue } from "./flags.js";
import { openConfigured } from "./open-storage.js";

const USAGE = "usage: tenet audit verify [--key VKEY] | proof SEQ [--size N] [--key VKEY] | query [--from T] [--to T] [--type T] [--store ID] [--subject S] [--resource R] [--decision D] [--policy P] [--limit N] [--desc]\n";

export async function auditCommand(args: string[], io: Io): Promise<number> {
  const [sub, ...rest] = args;
  if (sub !== "verify" && sub !== "proof" && sub !== "query") {
    io.err(USAGE);
    return 2;
  }
  const opened = await openConfigured(rest, io, `audit ${sub}`);
  if (!opened) return 1;
  const { ds } = opened;
  try {
    if (sub === "query") return await query(ds, rest, io);
    const key = await verifierKey(ds, rest, io);
    if (!key) return 1;
    return sub === "verify" ? await verify(ds, key, io) : await proof(ds, key, rest, io);
  } finally {
    await ds.close();
  }
}

async function verifierKey(ds: Datastore, args: string[], io: Io): Promise<VerifierKey | undefined> {
  const given = flagValue(args, "--key") ?? process.env.TENET_AUDIT_PUBLIC_KEY;
  if (given !== undefined && given !== "") {
    try {
      return parseVerifierKey(given);
    } catch (err) {
      throw new TenetError("validation_error", `--key: ${(err as Error).message}`);
    }
  }
  const stored = await readSigningPublicKey(ds);
  if (!stored) {
    io.err("tenet audit: this database has no audit signing key yet (nothing was ever logged)\n");
    return undefined;
  }
  io.err(`tenet audit: using the public key stored in the database (${stored.vkey}); pin it with --key for a stronger check\n`);
  return stored.verifier;
}

async function verify(ds: Datastore, key: VerifierKey, io: Io): Promise<number> {
  const report = await verifyAuditLog(ds, (note) => {
    const cp = verifyCheckpoint(note, key, { origin: key.name });
    return { size: cp.size, rootHash: cp.rootHash };
  });
  for (const p of report.problems) io.out(`PROBLEM ${p.kind}: ${p.message}\n`);
  io.out(
    `${report.ok ? "OK" : "FAILED"}: ${report.entries} entries read (log size ${report.size}${report.prunedBefore > 0 ? `, entries before ${report.prunedBefore} pruned under a signed checkpoint` : ""}), ` +
      `${report.checkpoints} checkpoints, verified up to ${report.verifiedSize}` +
      `${report.unsignedTail > 0 ? `; ${report.unsignedTail} newest entries not yet under a checkpoint` : ""}; ${(report.ms / 1000).toFixed(2)} s\n`,
  );
  return report.ok ? 0 : 1;
}

async function proof(ds: Datastore, key: VerifierKey, args: string[], io: Io): Promise<number> {
  const seqText = args.find((a, i) => !a.startsWith("--") && (i === 0 || !args[i - 1]!.startsWith("--")));
  const seq = Number(seqText);
  if (seqText === undefined || !Number.isSafeInteger(seq) || seq < 0) throw new TenetError("validation_error", "proof needs an entry's sequence number (a non-negative integer)");
  const sizeText = flagValue(args, "--size");
  const head = await ds.auditHead();
  const cpRow = sizeText !== undefined ? await ds.getAuditCheckpoint(Number(sizeText)) : head.checkpoint;
  if (!cpRow) throw new TenetError("not_found", sizeText !== undefined ? `there is no checkpoint of size ${sizeText}` : "no checkpoint has been signed yet");
  const cp = verifyCheckpoint(cpRow.note, key, { origin: key.name });
  if (seq >= cp.size) throw new TenetError("validation_error", `entry ${seq} is not in the checkpoint of ${cp.size} entries (use a later --size)`);
  const [entry] = await ds.readAudit(seq, 1);
  if (!entry) throw new TenetError("not_found", `entry ${seq} does not exist (or was pruned)`);
  // The tree from storage (the same way the log rebuilds it), up to the checkpoint's size.
  const tree = head.pruned ? Tree.fromCompactRange(head.pruned.size, head.pruned.subtrees) : new Tree();
  for (let from = tree.size; from < cp.size; from += 10_000) {
    for (const r of await ds.readAuditLeaves(from, Math.min(10_000, cp.size - from))) tree.append(r.leafHash);
  }
  const path = tree.inclusionProof(seq, cp.size);
  const leaf = leafHash(Buffer.from(entry.event, "utf8"));
  const ok = verifyInclusion(seq, cp.size, leaf, path, cp.rootHash);
  io.out(
    `${JSON.stringify(
      {
        seq,
        tree_size: cp.size,
        leaf_hash: leaf.toString("base64"),
        root_hash: cp.rootHash.toString("base64"),
        audit_path: path.map((h) => h.toString("base64")),
        checkpoint: cpRow.note,
        event: JSON.parse(entry.event) as unknown,
        verified: ok,
      },
      null,
      2,
    )}\n`,
  );
  io.err(ok ? `entry ${seq} is included in the signed checkpoint of ${cp.size} entries\n` : `entry ${seq} is NOT included in the signed checkpoint of ${cp.size} entries: the log was changed\n`);
  return ok ? 0 : 1;
}

async function query(ds: Datastore, args: string[], io: Io): Promise<number> {
  const time = (flag: string): string | undefined => {
    const v = flagValue(args, flag);
    if (v === undefined) return undefined;
    const t = Date.parse(v);
    if (!Number.isFinite(t)) throw new TenetError("validation_error", `${flag} must be an RFC 3339 time such as 2026-12-04T10:00:00Z`);
    return new Date(t).toISOString();
  };
  const limitText = flagValue(args, "--limit");
  const limit = limitText === undefined ? 100 : Number(limitText);
  if (!Number.isInteger(limit) || limit < 1 || limit > 100_000) throw new TenetError("validation_error", "--limit must be an integer from 1 to 100000");
  const rows = await ds.queryAudit({
    from: time("--from"),
    to: time("--to"),
    type: flagValue(args, "--type"),
    storeId: flagValue(args, "--store"),
    subject: flagValue(args, "--subject"),
    resource: flagValue(args, "--resource"),
    decision: flagValue(args, "--decision"),
    policy: flagValue(args, "--policy"),
    order: args.includes("--desc") ? "desc" : "asc",
    limit,
  });
  for (const r of rows) io.out(`${r.event}\n`);
  return 0;
}
