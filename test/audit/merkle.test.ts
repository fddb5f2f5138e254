import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { describe, it } from "node:test";
import { consistencyProof, emptyRoot, inclusionProof, leafHash, MerkleError, nodeHash, rootOf, verifyConsistency, verifyInclusion } from "../../src/audit/merkle.js";
import { rng } from "../rng.js";

const hex = (h: string) => Buffer.from(h, "hex");
const hexes = (b: readonly Uint8Array[]) => b.map((x) => Buffer.from(x).toString("hex"));

/**
 * The RFC 6962 reference vectors used by certificate-transparency-go and transparency-dev/merkle
 * (proof/verify_test.go, rfc6962/rfc6962_test.go): eight leaves, the root of each prefix, and
 * known inclusion and consistency proofs.
 */
const LEAVES = ["", "00", "10", "2021", "3031", "40414243", "5051525354555657", "606162636465666768696a6b6c6d6e6f"].map(hex);
const ROOTS = [
  "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
  "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
  "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
  "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
  "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
  "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
  "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
  "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
];
/** [leaf index (0-based), tree size, proof]. */
const INCLUSION: Array<[number, number, string[]]> = [
  [0, 1, []],
  [0, 8, ["96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7", "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e", "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"]],
  [5, 8, ["bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b", "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0", "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"]],
  [2, 3, ["fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"]],
  [1, 5, ["6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d", "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e", "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"]],
];
/** [size1, size2, proof]. */
const CONSISTENCY: Array<[number, number, string[]]> = [
  [1, 1, []],
  [1, 8, ["96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7", "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e", "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"]],
  [6, 8, ["0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a", "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0", "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"]],
  [2, 5, ["5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e", "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"]],
  [6, 7, ["0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a", "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f", "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"]],
];
const EMPTY = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
const SOME_HASH = hex("abacaba000000000000000000000000000000000000000000060061e00123456");

const leafHashes = LEAVES.map(leafHash);

function randomLeaves(seed: number, n: number): Buffer[] {
  const r = rng(seed);
  return Array.from({ length: n }, () => leafHash(Buffer.from(Array.from({ length: 1 + Math.floor(r() * 40) }, () => Math.floor(r() * 256)))));
}

/** The proof with byte `at` of element `i` changed. */
function flip(proof: readonly Buffer[], i: number, at: number, by: number): Buffer[] {
  return proof.map((h, j) => {
    if (j !== i) return h;
    const c = Buffer.from(h);
    c[at] = c[at]! ^ by;
    return c;
  });
}

describe("RFC 6962 hashing (known answers)", () => {
  it("hashes the empty tree, leaves and nodes as RFC 6962 does", () => {
    assert.equal(emptyRoot().toString("hex"), EMPTY);
    assert.equal(rootOf([]).toString("hex"), EMPTY);
    // echo -n 00 | xxd -r -p | sha256sum: an empty leaf is not the empty tree.
    assert.equal(leafHash(new Uint8Array(0)).toString("hex"), "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d");
    assert.equal(leafHash(Buffer.from("L123456")).toString("hex"), "395aa064aa4c29f7010acfe3f25db9485bbd4b91897b6ad7ad547639252b4d56");
    const [a, b] = [leafHash(Buffer.from("Hello")), leafHash(Buffer.from("World"))];
    assert.deepEqual(nodeHash(a, b), createHash("sha256").update(Buffer.concat([Buffer.of(1), a, b])).digest());
    assert.notDeepEqual(nodeHash(a, b), nodeHash(b, a));
    assert.notDeepEqual(nodeHash(a, b), leafHash(Buffer.concat([a, b])), "second-preimage resistant: a node is not a leaf of its children");
  });

  it("hashes large leaves the same way as small ones", () => {
    const big = Buffer.alloc(100_000, 7);
    assert.deepEqual(leafHash(big), createHash("sha256").update(Buffer.concat([Buffer.of(0), big])).digest());
    const small = Buffer.alloc(600, 9);
    assert.deepEqual(leafHash(small), createHash("sha256").update(Buffer.concat([Buffer.of(0), small])).digest());
  });

  it("computes the reference root of every prefix of the 8 leaves", () => {
    for (let n = 1; n <= 8; n++) assert.equal(rootOf(leafHashes.slice(0, n)).toString("hex"), ROOTS[n - 1], `size ${n}`);
  });

  it("generates and verifies the reference inclusion proofs", () => {
    for (const [index, size, proof] of INCLUSION) {
      const leaves = leafHashes.slice(0, size);
      assert.deepEqual(hexes(inclusionProof(leaves, index)), proof, `PATH(${index}, D[${size}])`);
      assert.equal(verifyInclusion(index, size, leafHashes[index]!, proof.map(hex), hex(ROOTS[size - 1]!)), true);
    }
  });

  it("generates and verifies the reference consistency proofs", () => {
    for (const [m, n, proof] of CONSISTENCY) {
      assert.deepEqual(hexes(consistencyProof(leafHashes.slice(0, n), m)), proof, `PROOF(${m}, D[${n}])`);
      assert.equal(verifyConsistency(m, n, hex(ROOTS[m - 1]!), hex(ROOTS[n - 1]!), proof.map(hex)), true);
    }
  });

  it("rejects the reference inclusion proofs when corrupted (the probes of transparency-dev/merkle)", () => {
    for (const [index, size, proof64] of INCLUSION) {
      const proof = proof64.map(hex);
      const root = hex(ROOTS[size - 1]!);
      const leaf = leafHashes[index]!;
      const probes: Array<[string, number, number, Uint8Array, Uint8Array[], Uint8Array]> = [
        ["index - 1", index - 1, size, leaf, proof, root],
        ["index + 1", index + 1, size, leaf, proof, root],
        ["index ^ 2", index ^ 2, size, leaf, proof, root],
        ["size * 2", index, size * 2, leaf, proof, root],
        ["size / 2", index, Math.floor(size / 2), leaf, proof, root],
        ["wrong leaf", index, size, leafHash(Buffer.from("WrongLeaf")), proof, root],
        ["empty root", index, size, leaf, proof, emptyRoot()],
        ["random root", index, size, leaf, proof, SOME_HASH],
        ["trailing garbage", index, size, leaf, [...proof, new Uint8Array(0)], root],
        ["trailing root", index, size, leaf, [...proof, root], root],
        ["preceding garbage", index, size, leaf, [new Uint8Array(0), ...proof], root],
        ["preceding root", index, size, leaf, [root, ...proof], root],
      ];
      if (proof.length > 0) probes.push(["removed component", index, size, leaf, proof.slice(0, -1), root]);
      if (proof.length > 1) probes.push(["inserted component", index, size, leaf, [proof[0]!, SOME_HASH, ...proof.slice(1)], root]);
      for (let i = 0; i < proof.length; i++) probes.push([`proof[${i}] bit 3`, index, size, leaf, flip(proof, i, 0, 8), root]);
      for (const [desc, ...args] of probes) assert.equal(verifyInclusion(...args), false, `PATH(${index}, D[${size}]): ${desc}`);
    }
  });

  it("rejects the reference consistency proofs when corrupted", () => {
    for (const [m, n, proof64] of CONSISTENCY) {
      if (proof64.length === 0) continue;
      const proof = proof64.map(hex);
      const [r1, r2] = [hex(ROOTS[m - 1]!), hex(ROOTS[n - 1]!)];
      const probes: Array<[string, number, number, Uint8Array, Uint8Array, Uint8Array[]]> = [
        ["size1 - 1", m - 1, n, r1, r2, proof],
        ["size1 + 1", m + 1, n, r1, r2, proof],
        ["size1 ^ 2", m ^ 2, n, r1, r2, proof],
        ["size2 * 2", m, n * 2, r1, r2, proof],
        ["size2 / 2", m, Math.floor(n / 2), r1, r2, proof],
        ["wrong root1", m, n, SOME_HASH, r2, proof],
        ["wrong root2", m, n, r1, SOME_HASH, proof],
        ["swapped roots", m, n, r2, r1, proof],
        ["empty proof", m, n, r1, r2, []],
        ["trailing garbage", m, n, r1, r2, [...proof, new Uint8Array(0)]],
        ["trailing root1", m, n, r1, r2, [...proof, r1]],
        ["trailing root2", m, n, r1, r2, [...proof, r2]],
        ["preceding garbage", m, n, r1, r2, [new Uint8Array(0), ...proof]],
        ["preceding root1", m, n, r1, r2, [r1, ...proof]],
        ["preceding root2", m, n, r1, r2, [r2, ...proof]],
        ["preceding proof[0]", m, n, r1, r2, [proof[0]!, ...proof]],
        ["truncated proof", m, n, r1, r2, proof.slice(0, -1)],
      ];
      for (let i = 0; i < proof.length; i++) probes.push([`proof[${i}] bit 4`, m, n, r1, r2, flip(proof, i, 0, 16)]);
      for (const [desc, ...args] of probes) assert.equal(verifyConsistency(...args), false, `PROOF(${m}, D[${n}]): ${desc}`);
    }
  });

  it("treats trivial consistency strictly: equal sizes need equal roots and no proof; size 0 needs the empty root", () => {
    const [a, b] = [hex(ROOTS[0]!), hex(ROOTS[1]!)];
    assert.equal(verifyConsistency(0, 0, emptyRoot(), emptyRoot(), []), true);
    assert.equal(verifyConsistency(0, 5, emptyRoot(), b, []), true);
    assert.equal(verifyConsistency(0, 5, a, b, []), false, "a tree of size 0 has one root");
    assert.equal(verifyConsistency(0, 5, emptyRoot(), b, [a]), false);
    assert.equal(verifyConsistency(1, 1, a, a, []), true);
    assert.equal(verifyConsistency(1, 1, a, b, []), false);
    assert.equal(verifyConsistency(1, 1, a, a, [a]), false);
    assert.equal(verifyConsistency(1, 0, a, b, []), false, "time travel");
    assert.equal(verifyConsistency(2, 1, a, b, []), false);
    assert.equal(verifyConsistency(1, 2, a, b, []), false, "empty proof");
  });
});

describe("RFC 6962 proofs (properties, seeded)", () => {
  const N = 70;
  const leaves = randomLeaves(6962, N);
  const roots = Array.from({ length: N + 1 }, (_, n) => rootOf(leaves.slice(0, n)));

  it("every inclusion proof of every size up to 70 verifies, and fails with any change", () => {
    const r = rng(1);
    let checked = 0;
    for (let size = 1; size <= N; size++) {
      const tree = leaves.slice(0, size);
      for (let index = 0; index < size; index++) {
        const proof = inclusionProof(tree, index);
        const ok = (i: number, s: number, leaf: Uint8Array, p: readonly Uint8Array[], root: Uint8Array) => verifyInclusion(i, s, leaf, p, root);
        assert.equal(ok(index, size, leaves[index]!, proof, roots[size]!), true, `PATH(${index}, D[${size}])`);
        // Small trees: every byte of every element; larger ones: a random byte of each element.
        for (let i = 0; i < proof.length; i++) {
          const positions = size <= 12 ? Array.from({ length: 32 }, (_, k) => k) : [Math.floor(r() * 32)];
          for (const at of positions) assert.equal(ok(index, size, leaves[index]!, flip(proof, i, at, 1 + Math.floor(r() * 255)), roots[size]!), false, `PATH(${index}, D[${size}]) byte ${at} of [${i}]`);
        }
        for (let other = 0; other < size; other++) if (other !== index) assert.equal(ok(other, size, leaves[index]!, proof, roots[size]!), false, `index ${other} for ${index}`);
        for (const s of [size - 1, size + 1, size * 2]) if (s <= N && s > index) assert.equal(ok(index, s, leaves[index]!, proof, roots[s]!), false, `size ${s} for ${size}`);
        assert.equal(ok(index, size, leaves[(index + 1) % N]!, proof, roots[size]!), false, "another leaf");
        if (proof.length > 0) assert.equal(ok(index, size, leaves[index]!, proof.slice(1), roots[size]!), false, "short proof");
        assert.equal(ok(index, size, leaves[index]!, [...proof, roots[size]!], roots[size]!), false, "long proof");
        checked++;
      }
    }
    assert.equal(checked, (N * (N + 1)) / 2);
  });

  it("every consistency proof between sizes up to 70 verifies, and fails with any change", () => {
    const r = rng(2);
    for (let n = 0; n <= N; n++) {
      const tree = leaves.slice(0, n);
      for (let m = 0; m <= n; m++) {
        const proof = consistencyProof(tree, m);
        const ok = (s1: number, s2: number, p: readonly Uint8Array[]) => s2 <= N && s1 <= s2 && verifyConsistency(s1, s2, roots[s1]!, roots[s2]!, p);
        assert.equal(ok(m, n, proof), true, `PROOF(${m}, D[${n}])`);
        for (let i = 0; i < proof.length; i++) {
          const positions = n <= 12 ? Array.from({ length: 32 }, (_, k) => k) : [Math.floor(r() * 32)];
          for (const at of positions) assert.equal(ok(m, n, flip(proof, i, at, 1 + Math.floor(r() * 255))), false, `PROOF(${m}, D[${n}]) byte ${at} of [${i}]`);
        }
        if (m > 0 && m < n) {
          for (const [s1, s2] of [
            [m - 1, n],
            [m + 1, n],
            [m, n - 1],
            [m, n + 1],
          ] as const) {
            // A proof can be valid for other sizes only if it is the very same proof.
            if (s1 > 0 && s1 < s2 && s2 <= N) assert.equal(ok(s1, s2, proof), hexes(consistencyProof(leaves.slice(0, s2), s1)).join() === hexes(proof).join(), `sizes ${s1},${s2} for ${m},${n}`);
          }
          assert.equal(verifyConsistency(m, n, roots[m]!, roots[n]!, proof.slice(0, -1)), false, "short proof");
          assert.equal(verifyConsistency(m, n, roots[m]!, roots[n]!, [...proof, roots[n]!]), false, "long proof");
          assert.equal(verifyConsistency(m, n, roots[n]!, roots[m]!, proof), false, "swapped roots");
        }
      }
    }
  });

  it("never throws or loops on malformed input: sizes, indexes, hashes, proofs", () => {
    const h = leaves[0]!;
    const bad: unknown[] = [-1, 1.5, NaN, Infinity, -Infinity, 2 ** 53, "3", null, undefined, {}];
    for (const x of bad) {
      assert.equal(verifyInclusion(x as number, 8, h, [], h), false);
      assert.equal(verifyInclusion(0, x as number, h, [], h), false);
      assert.equal(verifyConsistency(x as number, 8, h, h, [h]), false);
      assert.equal(verifyConsistency(1, x as number, h, h, [h]), false);
    }
    for (const p of [null, undefined, "proof", [null], [h.subarray(0, 31)], [Buffer.alloc(33)], [[...h]], {}]) {
      assert.equal(verifyInclusion(0, 2, h, p as Uint8Array[], h), false);
      assert.equal(verifyConsistency(1, 2, h, h, p as Uint8Array[]), false);
    }
    assert.equal(verifyInclusion(0, 1, h.subarray(1), [], h.subarray(1)), false, "31-byte hashes");
    assert.equal(verifyInclusion(0, 1, h, [], h), true);
    assert.equal(verifyInclusion(2, 1, h, [], h), false);
    assert.equal(verifyInclusion(0, 0, h, [], emptyRoot()), false);
    // The largest sizes JavaScript holds exactly, and very long proofs: bounded work, an answer.
    const big = Number.MAX_SAFE_INTEGER;
    const long = Array.from({ length: 10_000 }, () => h);
    const started = performance.now();
    assert.equal(verifyInclusion(big - 1, big, h, long, h), false);
    assert.equal(verifyInclusion(0, big, h, long.slice(0, 53), h), false);
    assert.equal(verifyConsistency(big - 2, big, h, h, long), false);
    assert.equal(verifyConsistency(3, big, h, h, long.slice(0, 60)), false);
    assert.ok(performance.now() - started < 1000);
  });

  it("refuses to generate proofs for indexes and sizes outside the tree", () => {
    const tree = leaves.slice(0, 5);
    const outOfRange = (err: unknown) => err instanceof MerkleError && err.reason === "out_of_range" && err.code === "validation_error";
    for (const i of [-1, 5, 1.5, NaN]) assert.throws(() => inclusionProof(tree, i), outOfRange);
    for (const m of [-1, 6, 0.5]) assert.throws(() => consistencyProof(tree, m), outOfRange);
    assert.throws(() => inclusionProof([], 0), outOfRange);
    assert.deepEqual(consistencyProof(tree, 0), []);
    assert.deepEqual(consistencyProof(tree, 5), []);
    const invalidHash = (err: unknown) => err instanceof MerkleError && err.reason === "invalid_hash";
    assert.throws(() => rootOf([h31()]), invalidHash);
    assert.throws(() => nodeHash(leaves[0]!, h31()), invalidHash);
  });
});

function h31(): Uint8Array {
  return new Uint8Array(31);
}
