/**
 * RFC 9162 (RFC 6962 bis) Merkle tree hashing with SHA-256: leaf and node hashes, the tree head
 * of a list of leaves, and audit paths and consistency proofs — generated from the list (the
 * reference definitions, recursive as the RFC writes them) and verified (the RFC's iterative
 * algorithms). `tree.ts` generates the same proofs in O(log n) from stored subtree hashes.
 *
 * Verification takes untrusted input (sizes, indexes and proofs from a client or a file): it
 * answers false, never throws, for anything malformed, and every loop is bounded by the proof's
 * length and the bit length of the sizes.
 */
import { createHash, hash as oneShotHash } from "node:crypto";
import { TenetError } from "../errors.js";

/** Bytes in a SHA-256 hash. */
export const HASH_SIZE = 32;

export type MerkleErrorReason =
  /** An index or size outside the tree (caller's mistake). */
  | "out_of_range"
  /** A hash that is not 32 bytes. */
  | "invalid_hash"
  /** What was asked for needs entries that were pruned. */
  | "pruned";

/** A request the tree cannot answer. `reason` is stable; `code` is the HTTP-facing one. */
export class MerkleError extends TenetError {
  readonly reason: MerkleErrorReason;

  constructor(reason: MerkleErrorReason, message: string) {
    super(reason === "pruned" ? "not_found" : "validation_error", message);
    this.reason = reason;
  }
}

const LEAF_PREFIX = 0x00;
const NODE_PREFIX = 0x01;
/** Leaves up to this size are hashed from one reused buffer (one native call, no allocation). */
const SCRATCH_DATA = 4096;
const scratch = Buffer.alloc(1 + SCRATCH_DATA);
const nodeScratch = Buffer.alloc(1 + 2 * HASH_SIZE);
nodeScratch[0] = NODE_PREFIX;

const EMPTY_ROOT = createHash("sha256").digest();

/**
 * nodeHash of the two hashes side by side at src[offset, offset + 64), without checks or copies
 * of its own: the hot path of tree.ts, whose sibling pairs are adjacent in memory.
 */
export function nodeHashAdjacent(src: Buffer, offset: number): Buffer {
  src.copy(nodeScratch, 1, offset, offset + 2 * HASH_SIZE);
  return oneShotHash("sha256", nodeScratch, "buffer");
}

/** MTH({}) = SHA-256 of the empty string (RFC 9162 §2.1.1). A fresh copy each call. */
export function emptyRoot(): Buffer {
  return Buffer.from(EMPTY_ROOT);
}

/** MTH({d}) = SHA-256(0x00 || d): the hash of one log entry's bytes. */
export function leafHash(data: Uint8Array): Buffer {
  if (!(data instanceof Uint8Array)) throw new TypeError("leafHash: data must be a Uint8Array");
  if (data.length <= SCRATCH_DATA) {
    scratch[0] = LEAF_PREFIX;
    scratch.set(data, 1);
    return oneShotHash("sha256", scratch.subarray(0, 1 + data.length), "buffer");
  }
  return createHash("sha256").update(Uint8Array.of(LEAF_PREFIX)).update(data).digest();
}

/**
 * leafHash of a string's UTF-8 bytes, without encoding it into a new buffer first (the log hashes
 * every event it appends and verify every event it reads).
 */
export function leafHashOfText(text: string): Buffer {
  scratch[0] = LEAF_PREFIX;
  const written = scratch.write(text, 1, "utf8");
  // `write` stops early at the end of the buffer (never mid-character): with less than a
  // character's worth of room left the text may not all be there, so hash it the long way.
  if (written <= SCRATCH_DATA - 4) return oneShotHash("sha256", scratch.subarray(0, 1 + written), "buffer");
  return createHash("sha256").update(Uint8Array.of(LEAF_PREFIX)).update(text, "utf8").digest();
}

/** SHA-256(0x01 || left || right): the hash of an interior node. */
export function nodeHash(left: Uint8Array, right: Uint8Array): Buffer {
  checkHash(left, "left");
  checkHash(right, "right");
  nodeScratch.set(left, 1);
  nodeScratch.set(right, 1 + HASH_SIZE);
  return oneShotHash("sha256", nodeScratch, "buffer");
}

/** MTH(D[n]) for any n, the empty tree included (RFC 9162 §2.1.1). O(n) hashes. */
export function rootOf(leafHashes: readonly Uint8Array[]): Buffer {
  leafHashes.forEach((h, i) => checkHash(h, `leafHashes[${i}]`));
  if (leafHashes.length === 0) return emptyRoot();
  return mth(leafHashes, 0, leafHashes.length);
}

/**
 * PATH(m, D[n]) (RFC 9162 §2.1.3.1): the audit path of leaf `index` in the tree of all of
 * `leafHashes`, from the leaf's sibling up to the root's child. O(n) hashes.
 */
export function inclusionProof(leafHashes: readonly Uint8Array[], index: number): Buffer[] {
  leafHashes.forEach((h, i) => checkHash(h, `leafHashes[${i}]`));
  if (!Number.isSafeInteger(index) || index < 0 || index >= leafHashes.length) {
    throw new MerkleError("out_of_range", `leaf index ${index} is not in a tree of ${leafHashes.length} leaves`);
  }
  const out: Buffer[] = [];
  path(leafHashes, index, 0, leafHashes.length, out);
  return out;
}

/**
 * PROOF(m, D[n]) (RFC 9162 §2.1.4.1): the consistency proof between the tree of the first `size`
 * leaves and the tree of all of `leafHashes`. Empty when size is 0 or all of them. O(n) hashes.
 */
export function consistencyProof(leafHashes: readonly Uint8Array[], size: number): Buffer[] {
  leafHashes.forEach((h, i) => checkHash(h, `leafHashes[${i}]`));
  if (!Number.isSafeInteger(size) || size < 0 || size > leafHashes.length) {
    throw new MerkleError("out_of_range", `size ${size} is not between 0 and the tree's ${leafHashes.length} leaves`);
  }
  const out: Buffer[] = [];
  if (size > 0) subproof(leafHashes, size, 0, leafHashes.length, true, out);
  return out;
}

/**
 * Verifies that `leaf` is entry `index` of the tree of `size` entries whose root is `root`
 * (RFC 9162 §2.1.3.2). False for a wrong proof and for anything malformed: an index not below
 * the size, a hash that is not 32 bytes, a proof of the wrong length.
 */
export function verifyInclusion(index: number, size: number, leaf: Uint8Array, proof: readonly Uint8Array[], root: Uint8Array): boolean {
  if (!isCount(index) || !isCount(size) || index >= size) return false;
  if (!isHash(leaf) || !isHash(root) || !Array.isArray(proof) || !proof.every(isHash)) return false;
  let fn = index;
  let sn = size - 1;
  let r: Uint8Array = leaf;
  for (const p of proof) {
    if (sn === 0) return false; // the proof is longer than the path
    if (fn % 2 === 1 || fn === sn) {
      r = nodeHash(p, r);
      // A right-most node with no right sibling at this level moves up unchanged.
      while (fn % 2 === 0 && fn !== 0) {
        fn = half(fn);
        sn = half(sn);
      }
    } else {
      r = nodeHash(r, p);
    }
    fn = half(fn);
    sn = half(sn);
  }
  return sn === 0 && sameHash(r, root);
}

/**
 * Verifies that the tree of `size2` entries with root `root2` extends the tree of `size1` entries
 * with root `root1` (RFC 9162 §2.1.4.2). Equal sizes need equal roots and an empty proof; size 0
 * needs the empty tree's root and an empty proof. False for anything malformed (size1 > size2,
 * hashes that are not 32 bytes, a proof of the wrong length).
 */
export function verifyConsistency(size1: number, size2: number, root1: Uint8Array, root2: Uint8Array, proof: readonly Uint8Array[]): boolean {
  if (!isCount(size1) || !isCount(size2) || size1 > size2) return false;
  if (!isHash(root1) || !isHash(root2) || !Array.isArray(proof) || !proof.every(isHash)) return false;
  if (size1 === size2) return proof.length === 0 && sameHash(root1, root2);
  if (size1 === 0) return proof.length === 0 && sameHash(root1, EMPTY_ROOT);
  if (proof.length === 0) return false;
  // When size1 is a power of two, its root is a node of the larger tree and the proof omits it.
  const path: readonly Uint8Array[] = isPowerOfTwo(size1) ? [root1, ...proof] : proof;
  let fn = size1 - 1;
  let sn = size2 - 1;
  while (fn % 2 === 1) {
    fn = half(fn);
    sn = half(sn);
  }
  let fr: Uint8Array = path[0]!;
  let sr: Uint8Array = path[0]!;
  for (let i = 1; i < path.length; i++) {
    const c = path[i]!;
    if (sn === 0) return false;
    if (fn % 2 === 1 || fn === sn) {
      fr = nodeHash(c, fr);
      sr = nodeHash(c, sr);
      while (fn % 2 === 0 && fn !== 0) {
        fn = half(fn);
        sn = half(sn);
      }
    } else {
      sr = nodeHash(sr, c);
    }
    fn = half(fn);
    sn = half(sn);
  }
  return sn === 0 && sameHash(fr, root1) && sameHash(sr, root2);
}

/** Whether `h` is a 32-byte hash. */
export function isHash(h: unknown): h is Uint8Array {
  return h instanceof Uint8Array && h.length === HASH_SIZE;
}

/** Throws MerkleError("invalid_hash") unless `h` is a 32-byte hash; `what` names the argument. */
export function checkHash(h: unknown, what: string): asserts h is Uint8Array {
  if (!isHash(h)) throw new MerkleError("invalid_hash", `${what} must be a ${HASH_SIZE}-byte hash`);
}

/** Byte equality of two hashes (public values: no need for constant time). */
export function sameHash(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && Buffer.compare(a, b) === 0;
}

/** The largest power of two smaller than n (n >= 2): the RFC's split point k. */
export function splitPoint(n: number): number {
  let k = 1;
  while (k * 2 < n) k *= 2;
  return k;
}

function mth(d: readonly Uint8Array[], from: number, to: number): Buffer {
  if (to - from === 1) return Buffer.from(d[from]!);
  const k = splitPoint(to - from);
  return nodeHash(mth(d, from, from + k), mth(d, from + k, to));
}

/** PATH(m, D[from:to]) appended to out; m is relative to `from`. */
function path(d: readonly Uint8Array[], m: number, from: number, to: number, out: Buffer[]): void {
  if (to - from === 1) return;
  const k = splitPoint(to - from);
  if (m < k) {
    path(d, m, from, from + k, out);
    out.push(mth(d, from + k, to));
  } else {
    path(d, m - k, from + k, to, out);
    out.push(mth(d, from, from + k));
  }
}

/** SUBPROOF(m, D[from:to], b) appended to out; m is relative to `from`. */
function subproof(d: readonly Uint8Array[], m: number, from: number, to: number, b: boolean, out: Buffer[]): void {
  if (m === to - from) {
    if (!b) out.push(mth(d, from, to));
    return;
  }
  const k = splitPoint(to - from);
  if (m <= k) {
    subproof(d, m, from, from + k, b, out);
    out.push(mth(d, from + k, to));
  } else {
    subproof(d, m - k, from + k, to, false, out);
    out.push(mth(d, from, from + k));
  }
}

function isCount(n: unknown): n is number {
  return typeof n === "number" && Number.isSafeInteger(n) && n >= 0;
}

/** n >> 1 for any safe integer (the 32-bit operators would truncate sizes beyond 2^31). */
function half(n: number): number {
  return Math.floor(n / 2);
}

function isPowerOfTwo(n: number): boolean {
  while (n > 1 && n % 2 === 0) n /= 2;
  return n === 1;
}
