/**
 * The audit log over HTTP (admin scope: the log names who accessed what):
 *   GET /audit/v1/entries                 search (time range, type, store, subject, resource, decision, policy), paged
 *   GET /audit/v1/entries/{seq}           one entry, with its inclusion proof in the latest checkpoint
 *   GET /audit/v1/checkpoint              the latest signed checkpoint (C2SP signed note)
 *   GET /audit/v1/proof/inclusion/{seq}   RFC 9162 inclusion proof (?size=, default the checkpoint's)
 *   GET /audit/v1/proof/consistency       RFC 9162 consistency proof (?first=&second=)
 *   GET /audit/v1/public-key              the key that signs checkpoints (note verifier key)
 * Hashes are base64, as in checkpoints.
 */
import type { AuditLog } from "../../audit/log.js";
import { TenetError } from "../../errors.js";
import type { AuditRow } from "../../storage/interfaces.js";
import type { Router } from "../route.js";
import * as s from "./schemas.js";

const TAGS = ["Audit log"];

export interface AuditApi {
  log: AuditLog;
  /** The checkpoint signer's public identity. */
  publicKey: { name: string; vkey: string };
}

const b64 = (b: Uint8Array): string => Buffer.from(b).toString("base64");

function entryView(r: AuditRow) {
  return {
    seq: r.seq,
    time: r.time,
    type: r.type,
    class_uid: r.classUid,
    store_id: r.storeId,
    subject: r.subject,
    resource: r.resource,
    decision: r.decision,
    policy: r.policy,
    leaf_hash: b64(r.leafHash),
    event: JSON.parse(r.event) as unknown,
  };
}

export function registerAuditRoutes(r: Router, api: AuditApi): void {
  const { log } = api;
  const signedSize = (): number => {
    const cp = log.checkpoint;
    if (!cp) throw new TenetError("not_found", "no checkpoint has been signed yet");
    return cp.size;
  };

  r.add({
    method: "GET", url: "/audit/v1/entries", summary: "Search the audit log", tags: TAGS, scope: "admin",
    query: s.entriesQuery,
    handler: async ({ query }) => {
      const limit = query.page_size ?? 100;
      const desc = query.order === "desc";
      const rows = await log.queryAudit({
        from: query.from === undefined ? undefined : new Date(query.from).toISOString(),
        to: query.to === undefined ? undefined : new Date(query.to).toISOString(),
        type: query.type,
        storeId: query.store_id,
        subject: query.subject,
        resource: query.resource,
        decision: query.decision,
        policy: query.policy,
        order: desc ? "desc" : "asc",
        ...(query.cursor === undefined ? {} : desc ? { beforeSeq: query.cursor } : { afterSeq: query.cursor }),
        limit: limit + 1,
      });
      const more = rows.length > limit;
      const page = more ? rows.slice(0, limit) : rows;
      return { entries: page.map(entryView), next_cursor: more ? page[page.length - 1]!.seq : null };
    },
  });

  r.add({
    method: "GET", url: "/audit/v1/entries/:seq", summary: "One audit entry with its inclusion proof", tags: TAGS, scope: "admin",
    params: s.seqParams,
    handler: async ({ params }) => {
      const [row] = await log.readAudit(params.seq, 1);
      if (!row) throw new TenetError("not_found", `audit entry ${params.seq} does not exist (or was pruned)`);
      const cp = log.checkpoint;
      const proof = cp && params.seq < cp.size ? { tree_size: cp.size, root_hash: b64(cp.rootHash), audit_path: log.inclusionProof(params.seq, cp.size).map(b64) } : null;
      return { ...entryView(row), inclusion: proof };
    },
  });

  r.add({
    method: "GET", url: "/audit/v1/checkpoint", summary: "The latest signed checkpoint", tags: TAGS, scope: "admin",
    handler: async () => {
      const cp = log.checkpoint;
      if (!cp) throw new TenetError("not_found", "no checkpoint has been signed yet");
      return { size: cp.size, root_hash: b64(cp.rootHash), time: cp.time, note: cp.note, log_size: log.size };
    },
  });

  r.add({
    method: "GET", url: "/audit/v1/proof/inclusion/:seq", summary: "Inclusion proof of an entry (RFC 9162)", tags: TAGS, scope: "admin",
    params: s.seqParams, query: s.inclusionQuery,
    handler: async ({ params, query }) => {
      const size = query.size ?? signedSize();
      if (size > log.size) throw new TenetError("validation_error", `the log has ${log.size} entries, not ${size}`);
      if (params.seq >= size) throw new TenetError("validation_error", `entry ${params.seq} is not in the tree of ${size} entries`);
      const [row] = await log.readAudit(params.seq, 1);
      if (!row) throw new TenetError("not_found", `audit entry ${params.seq} does not exist (or was pruned)`);
      return { leaf_index: params.seq, tree_size: size, leaf_hash: b64(row.leafHash), root_hash: b64(log.rootAt(size)), audit_path: log.inclusionProof(params.seq, size).map(b64) };
    },
  });

  r.add({
    method: "GET", url: "/audit/v1/proof/consistency", summary: "Consistency proof between two tree sizes (RFC 9162)", tags: TAGS, scope: "admin",
    query: s.consistencyQuery,
    handler: async ({ query }) => {
      const second = query.second ?? signedSize();
      if (second > log.size) throw new TenetError("validation_error", `the log has ${log.size} entries, not ${second}`);
      if (query.first > second) throw new TenetError("validation_error", "first must not be larger than second");
      return { first: query.first, second, first_root: b64(log.rootAt(query.first)), second_root: b64(log.rootAt(second)), proof: log.consistencyProof(query.first, second).map(b64) };
    },
  });

  r.add({
    method: "GET", url: "/audit/v1/public-key", summary: "The checkpoint signing key (verifier key)", tags: TAGS, scope: "admin",
    handler: async () => ({ name: api.publicKey.name, vkey: api.publicKey.vkey }),
  });
}
