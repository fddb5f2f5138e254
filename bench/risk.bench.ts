/**
 * Risk engine micro-benchmark: assess() with every default signal on varied inputs where many
 * signals fire (new and unregistered devices, travel, feed hits), and on calm ones,
 * against large lists (a 100,000-entry feed, a 20,000-entry deny list) and a MaxMind DB, with
 * and without the built-in geolocation dataset.
 *
 * Run: npm run build && node dist/bench/risk.bench.js   (BENCH_RUN_MS, default 2000)
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { defaultSignals, loadRiskResources, parseRiskConfig, RiskEngine, type RiskInput } from "../src/policy/risk/index.js";
import { buildMmdb, cityRecord } from "../test/policy/risk/mmdb-writer.js";

const RUN_MS = Number(process.env.BENCH_RUN_MS) || 2000;
let seed = 42;
const rand = (n: number): number => {
  // mulberry32: a plain LCG's low bits repeat too soon for unique networks.
  seed = (seed + 0x6d2b79f5) | 0;
  let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
  t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
  return Math.floor((((t ^ (t >>> 14)) >>> 0) / 4294967296) * n);
};
const v4 = (): string => `${1 + rand(223)}.${rand(256)}.${rand(256)}.${rand(256)}`;

const dir = mkdtempSync(join(tmpdir(), "tenet-risk-bench-"));
writeFileSync(join(dir, "feed.txt"), Array.from({ length: 100_000 }, () => `${v4()}/${16 + rand(17)}`).join("\n"));
writeFileSync(join(dir, "deny.txt"), Array.from({ length: 20_000 }, (_, i) => (i % 4 === 0 ? `2001:db8:${rand(65536).toString(16)}::/48` : v4())).join("\n"));
// 2,000 /24 networks in 2,000 different places.
const nets = new Map<string, ReturnType<typeof cityRecord>>();
while (nets.size < 2000) nets.set(`${1 + rand(223)}.${rand(256)}.${rand(256)}.0/24`, cityRecord(`City ${nets.size}`, "XX", rand(170) - 85, rand(350) - 175));
writeFileSync(join(dir, "city.mmdb"), buildMmdb([...nets].map(([cidr, data]) => ({ cidr, data }))));
const netIps = [...nets.keys()].map((c) => c.replace(/0\/24$/, `${1 + rand(250)}`));

const NOW = Date.UTC(2026, 2, 10, 14, 30);
const hist = Array.from({ length: 24 }, (_, h) => (h >= 8 && h <= 18 ? 10 : h === 22 ? 1 : 0));
function inputs(ipPool: () => string): RiskInput[] {
  return Array.from({ length: 4096 }, (_, i) => {
    const ip = ipPool();
    return {
      subject: { id: `user:u${i % 500}` },
      device: { id: `dev-${i % 7}`, registered: i % 5 !== 0 },
      request: { ip: i % 10 === 0 ? `2001:db8:${(i % 9).toString(16)}::${i}` : ip },
      resource: { type: "doc", id: `d${i}`, classification: (["internal", "confidential", "restricted", "public"] as const)[i % 4] as "internal" },
      now: NOW + i * 1000,
      history: {
        signIns: [{ time: NOW - 3_600_000, ip: i % 3 === 0 ? ipPool() : ip }, { time: NOW - 7_200_000, ip }],
        failedSignIns: i % 8 === 0 ? [NOW - 60_000] : [],
        knownDeviceIds: ["dev-0", "dev-1", "dev-2", "dev-3", "dev-4", "dev-5"],
        hourHistogram: hist,
      },
    };
  });
}

/** The common case: a known, registered device, from where the subject last signed in. */
function calmInputs(ipPool: () => string): RiskInput[] {
  return Array.from({ length: 4096 }, (_, i) => {
    const ip = ipPool();
    return {
      subject: { id: `user:u${i % 500}` },
      device: { id: "dev-1", registered: true },
      request: { ip },
      resource: { type: "doc", id: `d${i}`, classification: "internal" },
      now: NOW + (i % 60) * 60_000,
      history: { signIns: [{ time: NOW - 7_200_000, ip }], failedSignIns: [], knownDeviceIds: ["dev-0", "dev-1"], hourHistogram: hist },
    };
  });
}

function run(name: string, engine: RiskEngine, batch: RiskInput[]): void {
  let sink = 0;
  const loop = (ms: number): number => {
    let n = 0;
    const end = performance.now() + ms;
    while (performance.now() < end) {
      for (let i = 0; i < 1024; i++) sink += engine.assess(batch[(n + i) & 4095] as RiskInput).score;
      n += 1024;
    }
    return n;
  };
  loop(RUN_MS / 4); // warm up
  const t0 = performance.now();
  const n = loop(RUN_MS);
  const secs = (performance.now() - t0) / 1000;
  console.log(`${name.padEnd(44)} ${Math.round(n / secs).toLocaleString("en-US").padStart(12)} assess/s  ${((secs / n) * 1e9).toFixed(0).padStart(6)} ns/assess  (checksum ${sink % 997})`);
}

const base = { ipReputation: { denyFiles: ["deny.txt"], feeds: [{ name: "bench", file: "feed.txt" }] } };
const builtinCfg = parseRiskConfig(base);
const mmdbCfg = parseRiskConfig({ ...base, impossibleTravel: { geoDatabase: "city.mmdb" } });
const builtin = new RiskEngine(builtinCfg, defaultSignals(builtinCfg, loadRiskResources(builtinCfg, { baseDir: dir })));
const mmdb = new RiskEngine(mmdbCfg, defaultSignals(mmdbCfg, loadRiskResources(mmdbCfg, { baseDir: dir })));
const testRanges = ["192.0.2.", "198.51.100.", "203.0.113.", "198.18.0.", "198.18.1.", "198.19.0."];
console.log(`node ${process.version}; ${RUN_MS} ms per run; problems: ${JSON.stringify([...builtin.problems, ...mmdb.problems])}`);
run("built-in geo, documentation ranges", builtin, inputs(() => `${testRanges[rand(6)]}${rand(256)}`));
run("built-in geo, random addresses (unknown)", builtin, inputs(v4));
run("MaxMind DB, 2,000 located networks", mmdb, inputs(() => netIps[rand(netIps.length)] as string));
run("calm requests, built-in geo", builtin, calmInputs(() => `${testRanges[rand(6)]}${rand(256)}`));
run("calm requests, MaxMind DB", mmdb, calmInputs(() => netIps[rand(netIps.length)] as string));
rmSync(dir, { recursive: true, force: true });
