/** Subject history: the bounded update rules, the in-memory store, and the documents store on SQLite. */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { openDatastore } from "../../../src/storage/open.js";
import { defaultSignals } from "../../../src/policy/risk/default-signals.js";
import { RiskEngine } from "../../../src/policy/risk/engine.js";
import { applySignIn, emptyHistory, historyLimits, normalizeHistory, type HistoryStore } from "../../../src/policy/risk/history.js";
import { DocumentHistoryStore, RISK_HISTORY_COLLECTION } from "../../../src/policy/risk/history-documents.js";
import { MemoryHistoryStore } from "../../../src/policy/risk/history-memory.js";
import { config, HOUR, MINUTE, NOW, tempDir } from "./helpers.js";

const small = config({ history: { maxSignIns: 3, maxKnownDevices: 2, maxFailedSignIns: 4, histogramDecayAt: 48, maxSubjects: 2 } });
const limits = historyLimits(small);

describe("applySignIn", () => {
  test("successes: sign-ins sorted and bounded, devices most-recent-last and bounded, hour counted", () => {
    let h = emptyHistory();
    h = applySignIn(h, { subjectId: "u", time: NOW, success: true, ip: "192.0.2.1", deviceId: "a" }, limits);
    h = applySignIn(h, { subjectId: "u", time: NOW - HOUR, success: true, deviceId: "b" }, limits); // late arrival
    h = applySignIn(h, { subjectId: "u", time: NOW + HOUR, success: true, deviceId: "a" }, limits);
    h = applySignIn(h, { subjectId: "u", time: NOW + 2 * HOUR, success: true, deviceId: "c" }, limits);
    assert.deepEqual(h.signIns.map((s) => s.time), [NOW, NOW + HOUR, NOW + 2 * HOUR]);
    assert.deepEqual(h.signIns[0], { time: NOW, ip: "192.0.2.1", deviceId: "a" });
    assert.deepEqual(h.knownDeviceIds, ["a", "c"]); // b was least recently used
    assert.equal(h.hourHistogram[14], 1);
    assert.equal(h.hourHistogram[13], 1);
    assert.equal(h.hourHistogram.reduce((a, b) => a + b), 4);
  });

  test("the input history is not changed", () => {
    const h = emptyHistory();
    applySignIn(h, { subjectId: "u", time: NOW, success: true, deviceId: "a" }, limits);
    applySignIn(h, { subjectId: "u", time: NOW, success: false }, limits);
    assert.deepEqual(h, emptyHistory());
  });

  test("failures: only those inside the window are kept, at most maxFailedSignIns", () => {
    let h = emptyHistory();
    for (const m of [-60, -20, -14, -10, -5, -3, -1]) h = applySignIn(h, { subjectId: "u", time: NOW + m * MINUTE, success: false }, limits);
    assert.deepEqual(h.failedSignIns, [-10, -5, -3, -1].map((m) => NOW + m * MINUTE));
    assert.deepEqual(h.signIns, []);
    // A success does not clear failures.
    h = applySignIn(h, { subjectId: "u", time: NOW, success: true }, limits);
    assert.equal(h.failedSignIns.length, 4);
  });

  test("the histogram halves when it reaches histogramDecayAt", () => {
    let h = emptyHistory();
    for (let i = 0; i < 47; i++) h = applySignIn(h, { subjectId: "u", time: NOW, success: true }, limits);
    assert.equal(h.hourHistogram[14], 47);
    h = applySignIn(h, { subjectId: "u", time: NOW + 10 * HOUR, success: true }, limits);
    assert.equal(h.hourHistogram[14], 23);
    assert.equal(h.hourHistogram[0], 0); // 1 halved away
  });

  test("normalizeHistory keeps what is well-formed and drops the rest", () => {
    assert.deepEqual(normalizeHistory(null), emptyHistory());
    assert.deepEqual(normalizeHistory("junk"), emptyHistory());
    const n = normalizeHistory({
      signIns: [{ time: 2, ip: 5 }, "x", { time: 1, ip: "192.0.2.1", location: { latitude: 1, longitude: 2, city: "X" } }, { ip: "no time" }],
      failedSignIns: [3, "4", 1],
      knownDeviceIds: ["a", 1],
      hourHistogram: [1, 2],
      credential: { flagged: true, reason: "leak", flaggedAt: 9 },
    });
    assert.deepEqual(n, {
      signIns: [{ time: 1, ip: "192.0.2.1", location: { latitude: 1, longitude: 2, city: "X" } }, { time: 2 }],
      failedSignIns: [1, 3],
      knownDeviceIds: ["a"],
      hourHistogram: new Array(24).fill(0),
      credential: { flagged: true, reason: "leak", flaggedAt: 9 },
    });
  });
});

/** The behaviour every HistoryStore must have. */
function storeContract(name: string, make: () => Promise<{ store: HistoryStore; done: () => Promise<void> }>) {
  describe(`${name}: HistoryStore contract`, () => {
    test("an unknown subject has an empty history; records and flags show up", async () => {
      const { store, done } = await make();
      try {
        assert.deepEqual(await store.get("user:nobody"), emptyHistory());
        await store.recordSignIn({ subjectId: "user:anne", time: NOW - HOUR, success: true, ip: "192.0.2.1", deviceId: "laptop" });
        await store.recordSignIn({ subjectId: "user:anne", time: NOW - MINUTE, success: false, ip: "203.0.113.9" });
        await store.flagCredential("user:anne", { time: NOW, reason: "breach" });
        const h = await store.get("user:anne");
        assert.deepEqual(h.signIns, [{ time: NOW - HOUR, ip: "192.0.2.1", deviceId: "laptop" }]);
        assert.deepEqual(h.failedSignIns, [NOW - MINUTE]);
        assert.deepEqual(h.knownDeviceIds, ["laptop"]);
        assert.deepEqual(h.credential, { flagged: true, reason: "breach", flaggedAt: NOW });
        await store.clearCredentialFlag("user:anne");
        assert.equal((await store.get("user:anne")).credential, undefined);
        assert.deepEqual(await store.get("user:nobody"), emptyHistory());
      } finally {
        await done();
      }
    });

    test("returned histories are copies", async () => {
      const { store, done } = await make();
      try {
        await store.recordSignIn({ subjectId: "user:bob", time: NOW, success: true, deviceId: "d" });
        (await store.get("user:bob")).knownDeviceIds!.push("evil");
        assert.deepEqual((await store.get("user:bob")).knownDeviceIds, ["d"]);
      } finally {
        await done();
      }
    });

    test("many concurrent updates of one subject are all kept", async () => {
      const { store, done } = await make();
      try {
        await Promise.all(Array.from({ length: 25 }, (_, i) => store.recordSignIn({ subjectId: "user:target", time: NOW - i * 1000, success: false })));
        assert.equal((await store.get("user:target")).failedSignIns!.length, 25);
      } finally {
        await done();
      }
    });

    test("bad events are refused before anything is written", async () => {
      const { store, done } = await make();
      try {
        await assert.rejects(store.recordSignIn({ subjectId: "", time: NOW, success: true }), /subjectId/);
        await assert.rejects(store.recordSignIn({ subjectId: "u", time: Number.NaN, success: true }), /time/);
        await assert.rejects(store.recordSignIn({ subjectId: "u", time: NOW } as never), /success/);
        assert.deepEqual(await store.get("u"), emptyHistory());
      } finally {
        await done();
      }
    });

    test("feeds the engine: the second sign-in from Tokyo an hour after London is impossible travel", async () => {
      const { store, done } = await make();
      try {
        await store.recordSignIn({ subjectId: "user:anne", time: NOW - HOUR, success: true, ip: "192.0.2.1", deviceId: "laptop" });
        const c = config();
        const engine = new RiskEngine(c, defaultSignals(c));
        const a = engine.assess({ subject: { id: "user:anne" }, now: NOW, request: { ip: "203.0.113.1" }, device: { id: "laptop", registered: true }, history: await store.get("user:anne") });
        assert.deepEqual(a.reasons.map((r) => r.signal), ["impossible_travel", "resource_sensitivity"]);
      } finally {
        await done();
      }
    });
  });
}

storeContract("memory", async () => ({ store: new MemoryHistoryStore(config({ failedSignIns: { windowMinutes: 60 } })), done: async () => {} }));

storeContract("documents on SQLite", async () => {
  const ds = await openDatastore({ dataDir: tempDir("tenet-risk-history-") });
  return { store: new DocumentHistoryStore(ds, config({ failedSignIns: { windowMinutes: 60 } })), done: () => ds.close() };
});

describe("MemoryHistoryStore", () => {
  test("keeps at most maxSubjects, dropping the least recently used", async () => {
    const store = new MemoryHistoryStore(small);
    await store.recordSignIn({ subjectId: "a", time: NOW, success: true });
    await store.recordSignIn({ subjectId: "b", time: NOW, success: true });
    await store.recordSignIn({ subjectId: "a", time: NOW + 1, success: true }); // a is now the most recent
    await store.recordSignIn({ subjectId: "c", time: NOW, success: true });
    assert.equal(store.size, 2);
    assert.equal((await store.get("a")).signIns!.length, 2);
    assert.deepEqual(await store.get("b"), emptyHistory());
  });
});

describe("DocumentHistoryStore on SQLite", () => {
  test("survives reopening, and two replicas writing one subject lose nothing", async () => {
    const dataDir = tempDir("tenet-risk-history-");
    let ds = await openDatastore({ dataDir });
    try {
      // Two stores over one database: separate in-process queues, so they really conflict.
      const r1 = new DocumentHistoryStore(ds, small);
      const r2 = new DocumentHistoryStore(ds, small);
      await Promise.all([
        ...[1, 2, 3].map((i) => r1.recordSignIn({ subjectId: "user:anne", time: NOW + i, success: true, deviceId: `d${i}` })),
        ...[4, 5, 6].map((i) => r2.recordSignIn({ subjectId: "user:anne", time: NOW + i, success: false })),
      ]);
      const h = await r1.get("user:anne");
      assert.equal(h.signIns!.length, 3);
      assert.equal(h.failedSignIns!.length, 3);
      const doc = await ds.getDocument(RISK_HISTORY_COLLECTION, "user:anne");
      assert.equal(doc?.version, 6);
    } finally {
      await ds.close();
    }
    ds = await openDatastore({ dataDir });
    try {
      const h = await new DocumentHistoryStore(ds, small).get("user:anne");
      assert.deepEqual(h.knownDeviceIds, ["d2", "d3"]); // bounded to 2, oldest dropped
      assert.deepEqual(h.signIns!.map((s) => s.time), [NOW + 1, NOW + 2, NOW + 3]);
    } finally {
      await ds.close();
    }
  });

  test("a stored body that is not a history is read as what can be salvaged", async () => {
    const ds = await openDatastore({ dataDir: tempDir("tenet-risk-history-") });
    try {
      await ds.putDocument(RISK_HISTORY_COLLECTION, "user:odd", { signIns: "nope", knownDeviceIds: ["x"] }, 0);
      const store = new DocumentHistoryStore(ds, small);
      assert.deepEqual((await store.get("user:odd")).knownDeviceIds, ["x"]);
      await store.recordSignIn({ subjectId: "user:odd", time: NOW, success: true });
      assert.equal((await store.get("user:odd")).signIns!.length, 1);
    } finally {
      await ds.close();
    }
  });
});
