/**
 * Durability: a writer process is killed with SIGKILL at random moments during a stream of
 * writes, many times. Every acknowledged write must be there after restart, and every write
 * must be wholly present or wholly absent (a batch is one transaction).
 */
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import assert from "node:assert/strict";
import { openDatastore } from "../../src/storage/open.js";
import { PolicyService } from "../../src/policy/service.js";

const BATCH = 5;
const ROUNDS = 8;
const writer = new URL("./durability-writer.js", import.meta.url).pathname;

function runAndKill(dataDir: string, storeId: string, firstBatch: number, killAfterMs: number): Promise<number[]> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [writer, dataDir, storeId, String(firstBatch)], { stdio: ["ignore", "pipe", "pipe"] });
    const acked: number[] = [];
    let buf = "";
    let stderr = "";
    let timer: NodeJS.Timeout | undefined;
    child.stdout.on("data", (d: Buffer) => {
      buf += d.toString();
      let nl;
      while ((nl = buf.indexOf("\n")) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        const m = /^ack (\d+)$/.exec(line);
        if (m) acked.push(Number(m[1]));
        // Start the clock at the first acknowledgement so every round really writes.
        if (!timer) timer = setTimeout(() => child.kill("SIGKILL"), killAfterMs);
      }
    });
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    child.on("exit", (_code, signal) => {
      if (signal !== "SIGKILL") reject(new Error(`writer exited without being killed: ${stderr}`));
      else resolve(acked);
    });
  });
}

test("acknowledged writes survive kill -9 of the writer, and no write is half-applied", async () => {
  const dataDir = mkdtempSync(join(tmpdir(), "tenet-durability-"));
  try {
    let storeId: string;
    {
      const ds = await openDatastore({ dataDir });
      const svc = new PolicyService(ds);
      storeId = (await svc.createStore("durability")).id;
      await svc.writeModel(storeId, "model\n  schema 1.1\ntype user\ntype doc\n  relations\n    define viewer: [user]\n");
      await ds.close();
    }
    const acked: number[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      const killAfter = 50 + Math.floor(Math.random() * 300);
      acked.push(...(await runAndKill(dataDir, storeId, round * 1_000_000, killAfter)));
    }
    assert.ok(acked.length > ROUNDS, `expected many acknowledged writes, got ${acked.length}`);

    const ds = await openDatastore({ dataDir });
    try {
      const byBatch = new Map<number, number>();
      for await (const t of ds.allTuples(storeId)) {
        const b = Number(t.object.slice("doc:".length));
        byBatch.set(b, (byBatch.get(b) ?? 0) + 1);
      }
      for (const b of acked) assert.equal(byBatch.get(b), BATCH, `acknowledged batch ${b} is missing or partial`);
      for (const [b, n] of byBatch) assert.equal(n, BATCH, `batch ${b} is partially applied (${n}/${BATCH})`);
      // The change log agrees with the tuples: one write per tuple, revisions without gaps.
      const changes = await ds.readChanges(storeId, 0);
      assert.equal(changes.length, [...byBatch.values()].reduce((a, b) => a + b, 0));
      const revisions = [...new Set(changes.map((c) => c.revision))];
      revisions.forEach((r, i) => assert.equal(r, i + 1, "revisions must increase without gaps"));
    } finally {
      await ds.close();
    }
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
});
