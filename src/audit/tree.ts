/**
 * The in-memory Merkle tree of an append-only log (RFC 9162), for logs of millions of entries:
 * append, the root at the current or any earlier size, audit paths and consistency proofs, each
 * in O(log n), from the hashes of every complete (perfect) subtree.
 *
 * Layout: level L holds the hashes of the perfect subtrees of 2^L leaves, in order (level 0 =
 * the leaf hashes), so node (L, i) covers leaves [i·2^L, (i+1)·2^L). About 2n hashes in all,
 * 32 bytes each, packed in Buffers of up to CHUNK hashes per level (no object per hash, and no
 * copy of a whole level when it grows). A node over a range that runs past the tree's size is
 * never stored: the RFC's tree hashes the right edge differently, so those "ephemeral" nodes
 * are folded from the perfect subtrees of the edge when a root or proof needs them.
 *
 * Pruning: a tree can start at size p from the compact range of [0, p) — the roots of the
 * perfect subtrees that cover it, left to right. Then every node that is needed for roots at
 * sizes >= p, for audit paths of entries >= p and for consistency proofs from sizes >= p is
 * stored or computable; anything before p is gone (MerkleError "pruned").
 */
import { checkHash, emptyRoot, HASH_SIZE, MerkleError, nodeHash, nodeHashAdjacent } from "./merkle.js";

/** Hashes per Buffer of a level (512 KiB); a level's first Buffer grows up to this size. */
const CHUNK = 16_384;
/** Sizes whose right-edge folds are kept. */
const FOLD_CACHE = 8;

/** The hashes of one level: nodes [first, end), stored from `first`. */
class Level {
  private chunks: Buffer[] = [];
  /** Index of the first stored node (0 unless the tree started from a compact range). */
  readonly first: number;
  /** One past the last stored node. */
  end: number;

  constructor(first: number) {
    this.first = first;
    this.end = first;
  }

  /** A view of node i's hash (valid until the level is truncated and overwritten). */
  get(i: number): Buffer {
    const pos = i - this.first;
    const chunk = this.chunks[Math.floor(pos / CHUNK)]!;
    const off = (pos % CHUNK) * HASH_SIZE;
    return chunk.subarray(off, off + HASH_SIZE);
  }

  /** A copy of node i's hash. */
  copy(i: number): Buffer {
    const pos = i - this.first;
    const off = (pos % CHUNK) * HASH_SIZE;
    const out = Buffer.allocUnsafe(HASH_SIZE);
    this.chunks[Math.floor(pos / CHUNK)]!.copy(out, 0, off, off + HASH_SIZE);
    return out;
  }

  /** The parent of nodes i - 1 and i (i odd: a left and right sibling, adjacent in one chunk). */
  parentOf(i: number): Buffer {
    const pos = i - 1 - this.first;
    return nodeHashAdjacent(this.chunks[Math.floor(pos / CHUNK)]!, (pos % CHUNK) * HASH_SIZE);
  }

  push(hash: Uint8Array): void {
    const pos = this.end - this.first;
    const c = Math.floor(pos / CHUNK);
    const off = (pos % CHUNK) * HASH_SIZE;
    let chunk = this.chunks[c];
    if (chunk === undefined) {
      // Upper levels are short: start small, grow the first chunk by doubling.
      chunk = Buffer.allocUnsafe(c === 0 ? 8 * HASH_SIZE : CHUNK * HASH_SIZE);
      this.chunks.push(chunk);
    } else if (off + HASH_SIZE > chunk.length) {
      const bigger = Buffer.allocUnsafe(Math.min(chunk.length * 2, CHUNK * HASH_SIZE));
      chunk.copy(bigger, 0, 0, off);
      this.chunks[c] = chunk = bigger;
    }
    chunk.set(hash, off);
    this.end++;
  }

  truncate(end: number): void {
    this.end = end;
    this.chunks.length = Math.ceil((end - this.first) / CHUNK);
  }
}

export class Tree {
  private levels: Level[] = [];
  private n = 0;
  /** The size the tree started from (0, or the prune point of fromCompactRange). */
  private base = 0;
  /** Right-edge folds of recently asked sizes (see edge). */
  private readonly folds = new Map<number, Array<Buffer | undefined>>();

  /** A tree of these leaf hashes (e.g. read back from storage): SHA-256 bound, ~1 s per million leaves. */
  static fromLeafHashes(leafHashes: Iterable<Uint8Array>): Tree {
    const tree = new Tree();
    for (const h of leafHashes) tree.append(h);
    return tree;
  }

  /**
   * A tree of `size` leaves known only by its compact range: `subtrees` are the roots of the
   * perfect subtrees covering [0, size), left to right (largest first) — what `compactRange()`
   * returns and pruning keeps. Leaves from `size` on can then be appended.
   */
  static fromCompactRange(size: number, subtrees: readonly Uint8Array[]): Tree {
    if (!Number.isSafeInteger(size) || size < 0) throw new MerkleError("out_of_range", `compact range size must be a non-negative integer, got ${size}`);
    const levels = setBitsHighToLow(size);
    if (!Array.isArray(subtrees) || subtrees.length !== levels.length) {
      throw new MerkleError("out_of_range", `a compact range of size ${size} has ${levels.length} subtrees, got ${Array.isArray(subtrees) ? subtrees.length : "none"}`);
    }
    subtrees.forEach((h, i) => checkHash(h, `subtrees[${i}]`));
    const tree = new Tree();
    tree.base = size;
    levels.forEach((level, i) => tree.level(level).push(subtrees[i]!));
    tree.n = size;
    return tree;
  }

  /** Entries in the tree (including those before a prune point). */
  get size(): number {
    return this.n;
  }

  /** The first entry whose proofs are available: 0, or the size of the compact range it started from. */
  get prunedBefore(): number {
    return this.base;
  }

  /** Appends a leaf hash (SHA-256(0x00 || entry), see merkle.leafHash); returns its index. */
  append(leafHash: Uint8Array): number {
    checkHash(leafHash, "leafHash");
    const index = this.n;
    this.level(0).push(leafHash);
    this.n++;
    // Each completed pair makes a perfect subtree one level up.
    let level = 0;
    let i = index;
    while (i % 2 === 1) {
      const parent = this.levels[level]!.parentOf(i);
      level++;
      i = (i - 1) / 2;
      this.level(level).push(parent);
    }
    return index;
  }

  /** Appends every leaf hash in order. */
  appendAll(leafHashes: Iterable<Uint8Array>): void {
    for (const h of leafHashes) this.append(h);
  }

  /** The tree head now. */
  root(): Buffer {
    return this.rootAt(this.n);
  }

  /** MTH of the first `size` leaves, for any size from the prune point to now. */
  rootAt(size: number): Buffer {
    this.checkSize(size, "size");
    if (size === 0) return emptyRoot();
    return this.edge(size, Infinity);
  }

  /** A copy of leaf `index`'s hash. */
  leafHash(index: number): Buffer {
    this.checkIndex(index, this.n);
    return this.copyOf(0, index);
  }

  /** PATH(index, D[size]) (RFC 9162 §2.1.3.1): the audit path of entry `index` in the tree of `size` entries. */
  inclusionProof(index: number, size: number = this.n): Buffer[] {
    this.checkSize(size, "size");
    this.checkIndex(index, size);
    return this.path(index, 0, size);
  }

  /** PROOF(size1, D[size2]) (RFC 9162 §2.1.4.1): proof that the tree of size2 entries extends the one of size1. */
  consistencyProof(size1: number, size2: number = this.n): Buffer[] {
    this.checkSize(size2, "size2");
    if (!Number.isSafeInteger(size1) || size1 < 0 || size1 > size2) {
      throw new MerkleError("out_of_range", `size1 must be an integer between 0 and size2 (${size2}), got ${size1}`);
    }
    if (size1 === 0 || size1 === size2) return [];
    if (size1 < this.base) {
      throw new MerkleError("pruned", `no consistency proof from size ${size1}: entries before ${this.base} were pruned`);
    }
    // The proof is the last perfect subtree of the smaller tree (omitted when that subtree is
    // the whole smaller tree: the verifier has it as its root) and that node's audit path in
    // the larger tree; the same nodes as the RFC's SUBPROOF recursion, in the same order.
    let level = 0;
    while ((size1 / 2 ** level) % 2 === 0) level++;
    const index = size1 / 2 ** level - 1;
    const out = index === 0 ? [] : [this.copyOf(level, index)];
    out.push(...this.path(index, level, size2));
    return out;
  }

  /**
   * The compact range of [0, size): the roots of the perfect subtrees covering it, left to right
   * (largest first). With the size, enough to continue the tree (fromCompactRange) after pruning.
   */
  compactRange(size: number = this.n): Buffer[] {
    this.checkSize(size, "size");
    return setBitsHighToLow(size).map((level) => this.copyOf(level, Math.floor(size / 2 ** level) - 1));
  }

  /** Forgets the leaves from `size` on (to undo appends whose storage failed). */
  truncate(size: number): void {
    this.checkSize(size, "size");
    this.levels.forEach((l, level) => l.truncate(Math.max(l.first, Math.floor(size / 2 ** level))));
    this.n = size;
    this.folds.clear();
  }

  /**
   * The audit path of node (level, index) in the tree of `size` leaves, leaf side first.
   * Below `inner` (the levels where the node and the tree's last node part ways) the siblings
   * are perfect subtrees, except the one at level inner - 1: the right edge of the tree, which
   * is perfect only if size falls on its end. Above, the left siblings on the way to the root.
   */
  private path(index: number, level: number, size: number): Buffer[] {
    const last = Math.floor((size - 1) / 2 ** level);
    let inner = 0;
    for (let a = index, b = last; a !== b; a = Math.floor(a / 2), b = Math.floor(b / 2)) inner++;
    const out: Buffer[] = [];
    for (let l = 0; l < inner; l++) {
      const at = level + l;
      const i = Math.floor(index / 2 ** l);
      const sibling = i % 2 === 1 ? i - 1 : i + 1;
      if (l === inner - 1 && (sibling + 1) * 2 ** at > size) out.push(this.edge(size, at));
      else out.push(this.copyOf(at, sibling));
    }
    for (let l = inner, i = Math.floor(index / 2 ** l); i > 0; l++, i = Math.floor(i / 2)) {
      if (i % 2 === 1) out.push(this.copyOf(level + l, i - 1));
    }
    return out;
  }

  /**
   * MTH of the right edge [size - (size mod 2^below), size): the perfect subtrees of `size` below
   * level `below`, folded right to left (RFC 9162's split puts the larger subtree on the left).
   * A new Buffer. The folds of the last few sizes are kept: proofs are mostly asked at the
   * latest checkpoint's size, and a size with many set bits costs one hash per bit.
   */
  private edge(size: number, below: number): Buffer {
    let folds = this.folds.get(size);
    if (folds === undefined) {
      // folds[L] = the fold of the subtrees below level L (undefined while there are none).
      folds = [undefined];
      let acc: Buffer | undefined;
      for (let level = 0, rest = size; rest > 0; level++, rest = Math.floor(rest / 2)) {
        if (rest % 2 === 1) {
          acc = acc === undefined ? this.copyOf(level, rest - 1) : nodeHash(this.stored(level, rest - 1).get(rest - 1), acc);
        }
        folds.push(acc);
      }
      if (this.folds.size >= FOLD_CACHE) this.folds.delete(this.folds.keys().next().value!);
      this.folds.set(size, folds);
    }
    return Buffer.from(folds[Math.min(below, folds.length - 1)]!);
  }

  /** A copy of node (level, index)'s hash. */
  private copyOf(level: number, index: number): Buffer {
    return this.stored(level, index).copy(index);
  }

  /** The level holding node (level, index); throws if that node is not stored. */
  private stored(level: number, index: number): Level {
    const l = this.levels[level];
    if (l === undefined || index < l.first || index >= l.end) {
      // Unreachable for sizes and indexes that passed the checks: a bug, not a caller's mistake.
      throw new Error(`merkle tree: node (${level}, ${index}) is not stored`);
    }
    return l;
  }

  private level(level: number): Level {
    while (this.levels.length <= level) {
      const l = this.levels.length;
      // Nodes of this level that a tree started at `base` can hold: from the left sibling of the
      // compact-range node, if the level has one, else from the first node after base.
      this.levels.push(new Level(Math.floor(this.base / 2 ** (l + 1)) * 2));
    }
    return this.levels[level]!;
  }

  private checkSize(size: number, what: string): void {
    if (!Number.isSafeInteger(size) || size < 0 || size > this.n) {
      throw new MerkleError("out_of_range", `${what} must be an integer between 0 and the tree's size (${this.n}), got ${size}`);
    }
    if (size < this.base) {
      throw new MerkleError("pruned", `the tree at size ${size} is unavailable: entries before ${this.base} were pruned`);
    }
  }

  private checkIndex(index: number, size: number): void {
    if (!Number.isSafeInteger(index) || index < 0 || index >= size) {
      throw new MerkleError("out_of_range", `entry ${index} is not in the tree of ${size} entries`);
    }
    if (index < this.base) {
      throw new MerkleError("pruned", `entry ${index} was pruned (entries before ${this.base}): no audit path`);
    }
  }
}

/** The levels of the set bits of n, highest first: the perfect subtrees of [0, n), left to right. */
function setBitsHighToLow(n: number): number[] {
  const out: number[] = [];
  for (let level = 0, rest = n; rest > 0; level++, rest = Math.floor(rest / 2)) if (rest % 2 === 1) out.push(level);
  return out.reverse();
}
