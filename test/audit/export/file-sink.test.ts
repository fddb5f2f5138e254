import assert from "node:assert/strict";
import { appendFileSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { FileSink } from "../../../src/audit/export/sinks/file-sink.js";
import { range, row, seqsOfLines } from "./helpers.js";

const root = mkdtempSync(join(tmpdir(), "tenet-export-file-"));
after(() => rmSync(root, { recursive: true, force: true }));
let n = 0;
const freshDir = () => join(root, `case-${++n}`);

/** Rotated files oldest first, then the current one. */
function filesInOrder(path: string): string[] {
  const rotated: number[] = [];
  for (let i = 1; existsSync(`${path}.${i}`); i++) rotated.push(i);
  return [...rotated.reverse().map((i) => `${path}.${i}`), path];
}

describe("file sink", () => {
  it("appends one event per line, exactly as stored, creating the directory", async () => {
    const path = join(freshDir(), "nested", "audit.jsonl");
    const sink = new FileSink({ name: "local", path, maxFiles: 3 });
    await sink.deliver([row(0), row(1)]);
    await sink.deliver([row(2)]);
    await sink.close();
    assert.equal(readFileSync(path, "utf8"), `${row(0).event}\n${row(1).event}\n${row(2).event}\n`);
    assert.equal(statSync(path).mode & 0o777, 0o640);
  });

  it("rotates at the size: every file within maxBytes, and the files concatenate to every entry in order", async () => {
    const path = join(freshDir(), "audit.jsonl");
    // Lines differ by a few bytes (1- and 2-digit seqs, allow/deny): five of the longest fit, six never do.
    const lineBytes = Math.max(...range(0, 40).map((s) => Buffer.byteLength(`${row(s).event}\n`)));
    const maxBytes = lineBytes * 5 + 3;
    const sink = new FileSink({ name: "local", path, maxBytes, maxFiles: 100 });
    // Batches of uneven sizes, so rotations fall inside batches too.
    let seq = 0;
    for (const size of [1, 7, 3, 12, 2, 9, 6]) {
      await sink.deliver(range(seq, seq + size).map((s) => row(s)));
      seq += size;
    }
    await sink.close();
    const files = filesInOrder(path);
    assert.equal(files.length, Math.ceil(seq / 5));
    for (const f of files) assert.ok(statSync(f).size <= maxBytes, `${f} is ${statSync(f).size} bytes`);
    // Every file but the last is full: it was rotated at the size, not earlier.
    for (const f of files.slice(0, -1)) assert.equal(seqsOfLines(readFileSync(f, "utf8")).length, 5);
    const all = files.map((f) => readFileSync(f, "utf8")).join("");
    assert.deepEqual(seqsOfLines(all), range(0, seq));
    assert.equal(all, range(0, seq).map((s) => `${row(s).event}\n`).join(""));
  });

  it("keeps maxFiles rotated files, dropping the oldest (and extra ones left by a larger setting)", async () => {
    const dir = freshDir();
    const path = join(dir, "audit.jsonl");
    const lineBytes = Math.max(...range(0, 10).map((s) => Buffer.byteLength(`${row(s).event}\n`)));
    const sink = new FileSink({ name: "local", path, maxBytes: lineBytes * 2, maxFiles: 2 });
    await sink.deliver(range(0, 6).map((s) => row(s)));
    await sink.close();
    writeFileSync(`${path}.3`, "left from maxFiles: 3\n");
    writeFileSync(`${path}.4`, "left from maxFiles: 4\n");
    const again = new FileSink({ name: "local", path, maxBytes: lineBytes * 2, maxFiles: 2 });
    await again.deliver(range(6, 10).map((s) => row(s)));
    await again.close();
    assert.deepEqual(readdirSync(dir).sort(), ["audit.jsonl", "audit.jsonl.1", "audit.jsonl.2"]);
    assert.deepEqual(seqsOfLines(filesInOrder(path).map((f) => readFileSync(f, "utf8")).join("")), range(4, 10));
  });

  it("rotates by age at the first write after maxAge", async () => {
    const path = join(freshDir(), "audit.jsonl");
    const clock = { now: 1_000_000 };
    const sink = new FileSink({ name: "local", path, maxAgeMs: 60_000, maxFiles: 5, now: () => clock.now });
    await sink.deliver([row(0)]);
    clock.now += 59_999;
    await sink.deliver([row(1)]);
    assert.ok(!existsSync(`${path}.1`));
    clock.now += 1;
    await sink.deliver([row(2), row(3)]);
    clock.now += 30_000;
    await sink.deliver([row(4)]);
    await sink.close();
    assert.deepEqual(seqsOfLines(readFileSync(`${path}.1`, "utf8")), [0, 1]);
    assert.deepEqual(seqsOfLines(readFileSync(path, "utf8")), [2, 3, 4]);
  });

  it("removes a line torn by a crash before writing again (it was never acknowledged)", async () => {
    const path = join(freshDir(), "audit.jsonl");
    const first = new FileSink({ name: "local", path, maxFiles: 1 });
    await first.deliver([row(0), row(1)]);
    await first.close();
    appendFileSync(path, row(2).event.slice(0, 40));
    const second = new FileSink({ name: "local", path, maxFiles: 1 });
    await second.deliver([row(2), row(3)]);
    await second.close();
    assert.deepEqual(seqsOfLines(readFileSync(path, "utf8")), [0, 1, 2, 3]);
  });

  it("reports a file it may not write as stuck", async () => {
    const dir = freshDir();
    const sink = new FileSink({ name: "local", path: join(dir, "audit.jsonl"), maxFiles: 1 });
    // A directory where the file should be.
    await new FileSink({ name: "x", path: join(dir, "audit.jsonl", "x"), maxFiles: 1 }).deliver([row(0)]);
    await assert.rejects(sink.deliver([row(0)]), (err: Error & { failure?: string }) => {
      assert.equal(err.name, "DeliveryError");
      assert.equal(err.failure, "stuck");
      assert.match(err.message, /audit\.jsonl: EISDIR/);
      return true;
    });
  });
});
