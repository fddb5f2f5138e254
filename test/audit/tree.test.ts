import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { consistencyProof, emptyRoot, inclusionProof, leafHash, MerkleError, rootOf, verifyConsistency, verifyInclusion } from "../../src/audit/merkle.js";
import { Tree } from "../../src/audit/tree.js";
import { rng } from "../rng.js";

const hexes = (b: readonly Uint8Array[]) => b.map((x) => Buffer.from(x).toString("hex"));

function randomLeaves(seed: number, n: number): Buffer[] {
  const r = rng(seed);
  return Array.from({ length: n }, () => leafHash(Buffer.from(Array.from({ length: 1 + Math.floor(r() * 40) }, () => Math.floor(r() * 256)))));
}

const isReason = (reason: string) => (err: unknown) => err instanceof MerkleError && err.reason === reason;

describe("incremental Merkle tree", () => {
  const N = 70;
  const leaves = randomLeaves(9162, N);

  it("matches the RFC 6962 reference vectors", () => {
    const vector = ["", "00", "10", "2021", "3031", "40414243", "5051525354555657", "606162636465666768696a6b6c6d6e6f"].map((h) => leafHash(Buffer.from(h, "hex")));
    const tree = Tree.fromLeafHashes(vector);
    assert.equal(tree.size, 8);
    assert.equal(tree.rootAt(0).toString("hex"), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    assert.equal(tree.rootAt(3).toString("hex"), "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77");
    assert.equal(tree.root().toString("hex"), "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328");
    assert.deepEqual(hexes(tree.consistencyProof(6, 7)), ["0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a", "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f", "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"]);
    assert.deepEqual(hexes(tree.inclusionProof(5)), ["bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b", "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0", "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"]);
  });

  it("gives the reference root after every append, and at every earlier size", () => {
    const tree = new Tree();
    assert.deepEqual(tree.root(), emptyRoot());
    for (let n = 1; n <= N; n++) {
      assert.equal(tree.append(leaves[n - 1]!), n - 1);
      assert.equal(tree.size, n);
      assert.deepEqual(tree.root(), rootOf(leaves.slice(0, n)), `root at ${n}`);
    }
    for (let s = 0; s <= N; s++) assert.deepEqual(tree.rootAt(s), rootOf(leaves.slice(0, s)), `rootAt(${s})`);
  });

  it("gives the reference proofs for every index, size and pair of sizes up to 70", () => {
    const tree = Tree.fromLeafHashes(leaves);
    for (let size = 1; size <= N; size++) {
      const prefix = leaves.slice(0, size);
      const root = rootOf(prefix);
      for (let index = 0; index < size; index++) {
        const proof = tree.inclusionProof(index, size);
        assert.deepEqual(hexes(proof), hexes(inclusionProof(prefix, index)), `PATH(${index}, D[${size}])`);
        assert.equal(verifyInclusion(index, size, leaves[index]!, proof, root), true);
      }
      for (let m = 0; m <= size; m++) {
        const proof = tree.consistencyProof(m, size);
        assert.deepEqual(hexes(proof), hexes(consistencyProof(prefix, m)), `PROOF(${m}, D[${size}])`);
        assert.equal(verifyConsistency(m, size, rootOf(leaves.slice(0, m)), root, proof), true);
      }
    }
  });

  it("continues from a compact range to the same roots and proofs (pruning)", () => {
    const full = Tree.fromLeafHashes(leaves);
    for (let p = 0; p <= 40; p++) {
      const subtrees = full.compactRange(p);
      assert.equal(subtrees.length, p.toString(2).replace(/0/g, "").length, "one subtree per set bit of the size");
      const tree = Tree.fromCompactRange(p, subtrees);
      assert.equal(tree.size, p);
      assert.equal(tree.prunedBefore, p);
      assert.deepEqual(tree.root(), rootOf(leaves.slice(0, p)));
      assert.deepEqual(hexes(tree.compactRange()), hexes(subtrees));
      for (let n = p + 1; n <= N; n++) {
        tree.append(leaves[n - 1]!);
        assert.deepEqual(tree.root(), rootOf(leaves.slice(0, n)), `from ${p}, root at ${n}`);
      }
      for (let size = p; size <= N; size += 7) {
        assert.deepEqual(tree.rootAt(size), full.rootAt(size));
        assert.deepEqual(hexes(tree.compactRange(size)), hexes(full.compactRange(size)));
        for (let index = p; index < size; index++) assert.deepEqual(hexes(tree.inclusionProof(index, size)), hexes(full.inclusionProof(index, size)), `from ${p}: PATH(${index}, D[${size}])`);
        for (let m = p; m <= size; m++) assert.deepEqual(hexes(tree.consistencyProof(m, size)), hexes(full.consistencyProof(m, size)), `from ${p}: PROOF(${m}, D[${size}])`);
        assert.deepEqual(tree.consistencyProof(0, size), []);
      }
      if (p > 0) {
        assert.throws(() => tree.inclusionProof(p - 1, N), isReason("pruned"));
        assert.throws(() => tree.rootAt(p - 1), isReason("pruned"));
        assert.throws(() => tree.leafHash(p - 1), isReason("pruned"));
        if (p > 1) assert.throws(() => tree.consistencyProof(p - 1, N), isReason("pruned"));
        assert.throws(() => tree.compactRange(p - 1), isReason("pruned"));
        assert.throws(() => tree.truncate(p - 1), isReason("pruned"));
      }
    }
    const pruned = (err: unknown) => err instanceof MerkleError && err.reason === "pruned" && err.code === "not_found" && /pruned/.test(err.message);
    assert.throws(() => Tree.fromCompactRange(10, full.compactRange(10)).inclusionProof(3), pruned);
  });

  it("refuses a compact range that does not fit its size", () => {
    const full = Tree.fromLeafHashes(leaves);
    assert.throws(() => Tree.fromCompactRange(6, full.compactRange(7)), isReason("out_of_range"));
    assert.throws(() => Tree.fromCompactRange(6, [full.leafHash(0)]), isReason("out_of_range"));
    assert.throws(() => Tree.fromCompactRange(-1, []), isReason("out_of_range"));
    assert.throws(() => Tree.fromCompactRange(1.5, []), isReason("out_of_range"));
    assert.throws(() => Tree.fromCompactRange(2, [new Uint8Array(31)]), isReason("invalid_hash"));
    assert.deepEqual(Tree.fromCompactRange(0, []).root(), emptyRoot());
  });

  it("refuses indexes and sizes outside the tree, and hashes that are not 32 bytes", () => {
    const tree = Tree.fromLeafHashes(leaves.slice(0, 10));
    for (const bad of [-1, 11, 1.5, NaN, Infinity]) {
      assert.throws(() => tree.rootAt(bad), isReason("out_of_range"));
      assert.throws(() => tree.inclusionProof(0, bad), isReason("out_of_range"));
      assert.throws(() => tree.consistencyProof(1, bad), isReason("out_of_range"));
    }
    assert.throws(() => tree.inclusionProof(10), isReason("out_of_range"));
    assert.throws(() => tree.inclusionProof(5, 5), isReason("out_of_range"));
    assert.throws(() => tree.consistencyProof(6, 5), isReason("out_of_range"));
    assert.throws(() => tree.append(new Uint8Array(31)), isReason("invalid_hash"));
    assert.throws(() => tree.append("x".repeat(32) as unknown as Uint8Array), isReason("invalid_hash"));
    assert.equal(tree.size, 10, "nothing appended by a refused append");
  });

  it("truncates (undoing appends) and continues with other leaves", () => {
    const other = randomLeaves(77, N);
    const tree = Tree.fromLeafHashes(leaves);
    for (const cut of [69, 64, 33, 1, 0]) {
      tree.truncate(cut);
      assert.equal(tree.size, cut);
      assert.deepEqual(tree.root(), rootOf(leaves.slice(0, cut)));
      const mixed = [...leaves.slice(0, cut), ...other.slice(cut)];
      tree.appendAll(other.slice(cut));
      assert.deepEqual(tree.root(), rootOf(mixed));
      for (let s = cut; s <= N; s += 5) {
        assert.deepEqual(tree.rootAt(s), rootOf(mixed.slice(0, s)));
        if (s > cut) assert.deepEqual(hexes(tree.inclusionProof(s - 1, s)), hexes(inclusionProof(mixed.slice(0, s), s - 1)));
      }
      tree.truncate(cut);
      tree.appendAll(leaves.slice(cut));
    }
  });

  it("returns copies: changing a returned hash changes nothing inside", () => {
    const tree = Tree.fromLeafHashes(leaves.slice(0, 13));
    const root = tree.root();
    for (const b of [tree.root(), tree.rootAt(7), tree.leafHash(3), ...tree.inclusionProof(4), ...tree.consistencyProof(5), ...tree.compactRange()]) b.fill(0);
    assert.deepEqual(tree.root(), root);
    assert.deepEqual(hexes(tree.inclusionProof(4)), hexes(inclusionProof(leaves.slice(0, 13), 4)));
    const input = Buffer.from(leaves[13]!);
    tree.append(input);
    input.fill(0);
    assert.deepEqual(tree.root(), rootOf(leaves.slice(0, 14)));
  });

  it("handles a large tree: proofs at many sizes verify against independently computed roots", () => {
    const n = 2 * 16_384 + 12_345; // several chunks per level, many set bits
    const big = Array.from({ length: n }, (_, i) => leafHash(Buffer.from(`entry ${i}`)));
    const tree = Tree.fromLeafHashes(big);
    const r = rng(5);
    const sizes = [1, 2, 16_384, 16_385, 32_767, n - 1, n, ...Array.from({ length: 3 }, () => 1 + Math.floor(r() * n))];
    const roots = new Map(sizes.map((s) => [s, rootOf(big.slice(0, s))]));
    for (const s of sizes) {
      assert.deepEqual(tree.rootAt(s), roots.get(s));
      for (let k = 0; k < 20; k++) {
        const i = k === 0 ? s - 1 : Math.floor(r() * s);
        assert.equal(verifyInclusion(i, s, big[i]!, tree.inclusionProof(i, s), roots.get(s)!), true, `PATH(${i}, D[${s}])`);
      }
      for (const s2 of sizes) if (s2 >= s) assert.equal(verifyConsistency(s, s2, roots.get(s)!, roots.get(s2)!, tree.consistencyProof(s, s2)), true, `PROOF(${s}, D[${s2}])`);
    }
    const pruned = Tree.fromCompactRange(40_000, tree.compactRange(40_000));
    pruned.appendAll(big.slice(40_000));
    assert.deepEqual(pruned.root(), tree.root());
    assert.deepEqual(hexes(pruned.inclusionProof(n - 1)), hexes(tree.inclusionProof(n - 1)));
    assert.deepEqual(hexes(pruned.consistencyProof(40_001)), hexes(tree.consistencyProof(40_001)));
  });
});
