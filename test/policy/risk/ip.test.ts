/** Address and CIDR parsing, and the compiled range table behind lists, feeds and geolocation. */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { formatIp, parseCidr, parseIp } from "../../../src/policy/risk/ip.js";
import { IpRangeTable } from "../../../src/policy/risk/ip-range-table.js";

const table = (...cidrs: string[]) =>
  new IpRangeTable(cidrs.map((c) => {
    const range = parseCidr(c);
    assert.ok(range, c);
    return { range, value: c };
  }));
const find = (t: IpRangeTable<string>, ip: string) => {
  const a = parseIp(ip);
  assert.ok(a, `${ip} should parse`);
  return t.find(a);
};

describe("parseIp", () => {
  test("IPv4 dotted quads, strictly", () => {
    assert.deepEqual(parseIp("192.0.2.1"), { version: 4, n: 0xc0000201 });
    assert.deepEqual(parseIp("0.0.0.0"), { version: 4, n: 0 });
    assert.deepEqual(parseIp("255.255.255.255"), { version: 4, n: 0xffffffff });
    for (const bad of ["", "1.2.3", "1.2.3.4.5", "256.1.1.1", "01.2.3.4", "1.2.3.4 ", " 1.2.3.4", "1..2.3", "1.2.3.", "a.b.c.d", "1.2.3.4/32", "1e2.0.0.1"]) {
      assert.equal(parseIp(bad), undefined, JSON.stringify(bad));
    }
  });

  test("IPv6 with compression, an IPv4 tail and zones", () => {
    assert.deepEqual(parseIp("2001:db8::1"), { version: 6, w: [0x20010db8, 0, 0, 1] });
    assert.deepEqual(parseIp("::"), { version: 6, w: [0, 0, 0, 0] });
    assert.deepEqual(parseIp("::1"), { version: 6, w: [0, 0, 0, 1] });
    assert.deepEqual(parseIp("fe80::"), { version: 6, w: [0xfe800000, 0, 0, 0] });
    assert.deepEqual(parseIp("2001:DB8:0:0:0:0:0:FFFF"), { version: 6, w: [0x20010db8, 0, 0, 0xffff] });
    assert.deepEqual(parseIp("64:ff9b::192.0.2.33"), { version: 6, w: [0x0064ff9b, 0, 0, 0xc0000221] });
    assert.deepEqual(parseIp("fe80::1%eth0"), { version: 6, w: [0xfe800000, 0, 0, 1] });
    for (const bad of [":", ":::", "1:2:3:4:5:6:7", "1:2:3:4:5:6:7:8:9", "1::2::3", "12345::", "1:2:3:4:5:6:7::8:9", "::g", "1:", ":1", "fe80::1%", "fe80::1%<b>", "::1.2.3", "1:2:3:4:5:6:7:1.2.3.4"]) {
      assert.equal(parseIp(bad), undefined, JSON.stringify(bad));
    }
    // `::` must stand for at least one group.
    assert.equal(parseIp("1:2:3:4::5:6:7:8"), undefined);
    assert.deepEqual(parseIp("1:2:3:4:5:6:7::"), { version: 6, w: [0x10002, 0x30004, 0x50006, 0x70000] });
  });

  test("an IPv4-mapped IPv6 address is the IPv4 address", () => {
    assert.deepEqual(parseIp("::ffff:192.0.2.1"), { version: 4, n: 0xc0000201 });
    assert.deepEqual(parseIp("::ffff:c000:201"), { version: 4, n: 0xc0000201 });
  });

  test("formatIp", () => {
    assert.equal(formatIp(parseIp("10.1.2.3")!), "10.1.2.3");
    assert.equal(formatIp(parseIp("2001:db8::1")!), "2001:db8:0:0:0:0:0:1");
  });
});

describe("parseCidr", () => {
  test("ranges, bare addresses, host bits and bad prefixes", () => {
    assert.deepEqual(parseCidr("10.0.0.0/8"), { version: 4, first: 0x0a000000, last: 0x0affffff });
    assert.deepEqual(parseCidr("10.1.2.3/8"), { version: 4, first: 0x0a000000, last: 0x0affffff });
    assert.deepEqual(parseCidr("192.0.2.7"), { version: 4, first: 0xc0000207, last: 0xc0000207 });
    assert.deepEqual(parseCidr("0.0.0.0/0"), { version: 4, first: 0, last: 0xffffffff });
    assert.deepEqual(parseCidr("2001:db8::/33"), { version: 6, first: [0x20010db8, 0, 0, 0], last: [0x20010db8, 0x7fffffff, 0xffffffff, 0xffffffff] });
    assert.deepEqual(parseCidr("2001:db8::/48"), { version: 6, first: [0x20010db8, 0, 0, 0], last: [0x20010db8, 0x0000ffff, 0xffffffff, 0xffffffff] });
    assert.deepEqual(parseCidr("::/0"), { version: 6, first: [0, 0, 0, 0], last: [0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff] });
    assert.deepEqual(parseCidr("::ffff:192.0.2.0/120"), { version: 4, first: 0xc0000200, last: 0xc00002ff });
    for (const bad of ["10.0.0.0/33", "10.0.0.0/", "10.0.0.0/08", "10.0.0.0/-1", "2001:db8::/129", "fe80::%eth0/64", "x/8", "10.0.0.0/8/8"]) {
      assert.equal(parseCidr(bad), undefined, bad);
    }
  });
});

describe("IpRangeTable", () => {
  test("first and last address of a range match; one outside on either side does not", () => {
    const t = table("192.0.2.0/24", "203.0.113.128/25");
    assert.equal(find(t, "192.0.2.0"), "192.0.2.0/24");
    assert.equal(find(t, "192.0.2.255"), "192.0.2.0/24");
    assert.equal(find(t, "192.0.1.255"), undefined);
    assert.equal(find(t, "192.0.3.0"), undefined);
    assert.equal(find(t, "203.0.113.127"), undefined);
    assert.equal(find(t, "203.0.113.128"), "203.0.113.128/25");
    assert.equal(find(t, "203.0.113.255"), "203.0.113.128/25");
    assert.equal(find(t, "0.0.0.0"), undefined);
    assert.equal(find(t, "255.255.255.255"), undefined);
  });

  test("IPv6 ranges, boundaries included, and no mixing of versions", () => {
    const t = table("2001:db8:1::/48", "2001:db8:ffff:ffff::/64", "10.0.0.0/8");
    assert.equal(find(t, "2001:db8:1::"), "2001:db8:1::/48");
    assert.equal(find(t, "2001:db8:1:ffff:ffff:ffff:ffff:ffff"), "2001:db8:1::/48");
    assert.equal(find(t, "2001:db8:0:ffff:ffff:ffff:ffff:ffff"), undefined);
    assert.equal(find(t, "2001:db8:2::"), undefined);
    assert.equal(find(t, "2001:db8:ffff:ffff:ffff:ffff:ffff:ffff"), "2001:db8:ffff:ffff::/64");
    assert.equal(find(t, "::a00:1"), undefined); // ::10.0.0.1 is not 10.0.0.1
    assert.equal(find(t, "::ffff:10.0.0.1"), "10.0.0.0/8"); // but the mapped form is
  });

  test("nested ranges: the wider one answers, and what it does not cover stays uncovered", () => {
    const t = table("10.1.0.0/16", "10.0.0.0/8", "10.1.2.0/24", "11.0.0.0/8", "10.0.0.0/8");
    assert.equal(t.size, 2);
    assert.equal(find(t, "10.1.2.3"), "10.0.0.0/8");
    assert.equal(find(t, "10.255.255.255"), "10.0.0.0/8");
    assert.equal(find(t, "11.255.255.255"), "11.0.0.0/8");
    assert.equal(find(t, "12.0.0.0"), undefined);
  });

  test("agrees with a linear scan on many random ranges and addresses", () => {
    let seed = 7;
    const rand = () => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed;
    };
    const cidrs: string[] = [];
    for (let i = 0; i < 500; i++) {
      const n = (rand() * 2) >>> 0;
      cidrs.push(`${(n >>> 24) & 255}.${(n >>> 16) & 255}.${(n >>> 8) & 255}.${n & 255}/${8 + (rand() % 25)}`);
    }
    const ranges = cidrs.map((c) => parseCidr(c)!) as { first: number; last: number }[];
    const t = table(...cidrs);
    for (let i = 0; i < 5000; i++) {
      const n = i < 500 ? ranges[i]!.first : i < 1000 ? ranges[i - 500]!.last + 1 : (rand() * 2) >>> 0;
      if (n > 0xffffffff) continue;
      const ip = `${(n >>> 24) & 255}.${(n >>> 16) & 255}.${(n >>> 8) & 255}.${n & 255}`;
      const expected = ranges.some((r) => r.first <= n && n <= r.last);
      assert.equal(find(t, ip) !== undefined, expected, ip);
    }
  });
});
