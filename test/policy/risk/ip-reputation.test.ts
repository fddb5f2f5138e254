/** ip_reputation: deny and allow lists, feeds from real files, and caution when they fail. */
import assert from "node:assert/strict";
import { join } from "node:path";
import { describe, test } from "node:test";
import { parseIpListText } from "../../../src/policy/risk/ip-lists.js";
import { IpReputationSignal } from "../../../src/policy/risk/signals/ip-reputation.js";
import type { LoadProblem } from "../../../src/policy/risk/types.js";
import { config, ctxFor, input, lists, tempDir, writeFile } from "./helpers.js";

const dir = tempDir();
writeFile(dir, "deny.txt", "# operator deny list\n203.0.113.0/24   # abuse seen 2026-02\n2001:db8:bad::/48\n");
writeFile(dir, "allow.txt", "198.51.100.0/24 ; corporate egress\n\n2001:db8:100::/48\n");
writeFile(dir, "drop.txt", "; Spamhaus-style\n192.0.2.128/25 ; SBL1\n");
writeFile(dir, "tor.txt", "192.0.2.200\n198.51.100.7\n2001:db8:7::1\n");
writeFile(dir, "bad.txt", "192.0.2.0/24\nnot-an-ip\n10.0.0.0/33\n\n# fine\n<html>\n");
writeFile(dir, "empty.txt", "# nothing here\n\n");

function signal(raw: Record<string, unknown>) {
  const c = config({ ipReputation: raw });
  const { lists: l, problems } = lists(c, dir);
  return { s: new IpReputationSignal(c, l, problems), problems, c };
}
const evalIp = (s: IpReputationSignal, ip: string | undefined) => {
  const i = input(ip === undefined ? {} : { request: { ip } });
  return s.evaluate(i, ctxFor(i));
};

describe("ip_reputation", () => {
  const { s, problems } = signal({
    denyFiles: ["deny.txt"],
    allowFiles: ["allow.txt"],
    deny: ["198.51.100.66"],
    feeds: [{ name: "drop", file: "drop.txt", score: 70 }, { name: "tor", file: "tor.txt" }],
  });

  test("loads cleanly", () => assert.deepEqual(problems, []));

  test("a clean address says nothing", () => {
    assert.equal(evalIp(s, "192.0.2.1"), null);
    assert.equal(evalIp(s, "2001:db8:1::1"), null);
  });

  test("deny list: first and last address of the range, IPv4-mapped and IPv6", () => {
    const file = join(dir, "deny.txt");
    assert.deepEqual(evalIp(s, "203.0.113.0"), { score: 90, reason: `client IP 203.0.113.0 is on the deny list (203.0.113.0/24, ${file} line 2)` });
    assert.equal(evalIp(s, "203.0.113.255")?.score, 90);
    assert.equal(evalIp(s, "::ffff:203.0.113.9")?.score, 90);
    assert.equal(evalIp(s, "203.0.114.0"), null);
    assert.equal(evalIp(s, "203.0.112.255"), null);
    assert.deepEqual(evalIp(s, "2001:db8:bad:ffff:ffff:ffff:ffff:ffff"), {
      score: 90,
      reason: `client IP 2001:db8:bad:ffff:ffff:ffff:ffff:ffff is on the deny list (2001:db8:bad::/48, ${file} line 3)`,
    });
  });

  test("the allow list scores 0 with a reason, and overrides feeds", () => {
    const file = join(dir, "allow.txt");
    // 198.51.100.7 is in the tor feed too.
    assert.deepEqual(evalIp(s, "198.51.100.7"), { score: 0, reason: `client IP 198.51.100.7 is on the allow list (198.51.100.0/24, ${file} line 1)` });
    assert.equal(evalIp(s, "2001:db8:100::5")?.score, 0);
  });

  test("the deny list beats the allow list", () => {
    assert.deepEqual(evalIp(s, "198.51.100.66"), { score: 90, reason: "client IP 198.51.100.66 is on the deny list (198.51.100.66, configuration)" });
  });

  test("feeds: a feed's own score, else the default; the highest-scoring feed wins", () => {
    assert.deepEqual(evalIp(s, "192.0.2.128"), { score: 70, reason: `client IP 192.0.2.128 is listed by threat feed drop (192.0.2.128/25, ${join(dir, "drop.txt")} line 2)` });
    assert.equal(evalIp(s, "192.0.2.127"), null);
    // In both feeds: drop (70) beats tor (60).
    assert.equal(evalIp(s, "192.0.2.200")?.score, 70);
    assert.deepEqual(evalIp(s, "2001:db8:7::1"), { score: 60, reason: `client IP 2001:db8:7::1 is listed by threat feed tor (2001:db8:7::1, ${join(dir, "tor.txt")} line 3)` });
  });

  test("a missing or malformed client IP is a caution", () => {
    assert.deepEqual(evalIp(s, undefined), { score: 25, reason: "no client IP address" });
    assert.deepEqual(evalIp(s, ""), { score: 25, reason: "no client IP address" });
    assert.deepEqual(evalIp(s, "999.1.1.1"), { score: 25, reason: 'client IP address "999.1.1.1" is not a valid IP address' });
    assert.equal(evalIp(s, "<script>")?.reason, 'client IP address "<script>" is not a valid IP address');
  });
});

describe("loading lists and feeds", () => {
  test("malformed lines are reported with their line numbers; good lines still load", () => {
    const problems: LoadProblem[] = [];
    const entries = parseIpListText("192.0.2.0/24\nnot-an-ip\n10.0.0.0/33\n\n# fine\n<html>\r\n2001:db8::/32 # ok\r\n", "f.txt", problems);
    assert.equal(entries.length, 2);
    assert.deepEqual(problems, [
      { file: "f.txt", line: 2, problem: 'not an IP address or CIDR range: "not-an-ip"' },
      { file: "f.txt", line: 3, problem: 'not an IP address or CIDR range: "10.0.0.0/33"' },
      { file: "f.txt", line: 6, problem: 'not an IP address or CIDR range: "<html>"' },
    ]);
  });

  test("a garbage file is reported briefly, not line by line forever", () => {
    const problems: LoadProblem[] = [];
    parseIpListText(Array.from({ length: 100 }, (_, i) => `junk ${i}`).join("\n"), "g.txt", problems);
    assert.equal(problems.length, 21);
    assert.deepEqual(problems[20], { file: "g.txt", problem: "80 more malformed lines not listed" });
  });

  test("a missing feed: reported, and every assessment gets a caution (also added to a verdict)", () => {
    const { s, problems } = signal({ denyFiles: ["deny.txt"], feeds: [{ name: "drop", file: "missing.txt" }] });
    assert.deepEqual(problems, [{ file: join(dir, "missing.txt"), problem: "cannot read the file (ENOENT)" }]);
    const clean = evalIp(s, "192.0.2.1");
    assert.equal(clean?.score, 20);
    assert.match(clean!.reason, /^threat feed unavailable or incomplete \(threat feed drop: .*missing\.txt cannot be read\)/);
    const denied = evalIp(s, "203.0.113.1");
    assert.equal(denied?.score, 100); // 90 + 20, capped
    assert.match(denied!.reason, /is on the deny list .*; threat feed unavailable/);
    assert.equal(evalIp(s, undefined)?.score, 45);
  });

  test("a feed with malformed lines, an empty feed and an unreadable deny list are cautions too", () => {
    const bad = signal({ feeds: [{ name: "bad", file: "bad.txt" }] });
    assert.deepEqual(bad.problems.map((p) => p.line), [2, 3, 6]);
    assert.match(evalIp(bad.s, "198.51.100.1")!.reason, /threat feed bad: .*bad\.txt has malformed lines/);
    // The feed's good lines still count.
    assert.equal(evalIp(bad.s, "192.0.2.1")?.score, 80);

    const empty = signal({ feeds: [{ name: "e", file: "empty.txt" }] });
    assert.deepEqual(empty.problems, [{ file: join(dir, "empty.txt"), problem: "the file has no entries" }]);
    assert.equal(evalIp(empty.s, "198.51.100.1")?.score, 20);

    const deny = signal({ denyFiles: [dir] }); // a directory: EISDIR
    assert.equal(deny.problems[0]?.problem, "cannot read the file (EISDIR)");
    assert.equal(evalIp(deny.s, "198.51.100.1")?.score, 20);
  });

  test("a missing allow list is reported but adds no caution (fewer allows is already cautious)", () => {
    const { s, problems } = signal({ allowFiles: ["nope.txt"] });
    assert.equal(problems.length, 1);
    assert.equal(evalIp(s, "198.51.100.1"), null);
  });

  test("the caution score is configurable", () => {
    const c = config({ ipReputation: { feeds: [{ name: "x", file: "missing.txt" }], scores: { feedUnavailable: 35 } } });
    const { lists: l, problems } = lists(c, dir);
    assert.equal(new IpReputationSignal(c, l, problems).evaluate(input({ request: { ip: "192.0.2.1" } }), ctxFor(input({ request: { ip: "192.0.2.1" } }), c))?.score, 35);
  });
});
