/** Named network zones: every zone holding the address, IPv4 and IPv6, overlaps, bad input. */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { compileZones } from "../../../../src/policy/access/adapters/zones.js";

describe("compileZones", () => {
  const zonesOf = compileZones({
    corp: ["10.0.0.0/8", "2001:db8::/32"],
    lab: ["10.1.0.0/16"],
    vpn: ["100.64.0.0/10", "192.0.2.7"],
  });

  test("names every zone holding the address, in configuration order", () => {
    assert.deepEqual(zonesOf("10.9.9.9"), ["corp"]);
    assert.deepEqual(zonesOf("10.1.2.3"), ["corp", "lab"], "overlapping zones both apply");
    assert.deepEqual(zonesOf("100.127.255.255"), ["vpn"]);
    assert.deepEqual(zonesOf("192.0.2.7"), ["vpn"], "a bare address is a /32");
    assert.deepEqual(zonesOf("192.0.2.8"), []);
  });

  test("IPv6, and IPv4-mapped IPv6 as the IPv4 address (a zone cannot be dodged by spelling)", () => {
    assert.deepEqual(zonesOf("2001:db8:1::42"), ["corp"]);
    assert.deepEqual(zonesOf("2001:db9::1"), []);
    assert.deepEqual(zonesOf("::ffff:10.1.0.1"), ["corp", "lab"]);
  });

  test("an address that does not parse is in no zone", () => {
    for (const bad of ["", "10.0.0", "010.0.0.1", "not an ip", "10.0.0.0/8", "2001:db8::1::2"]) assert.deepEqual(zonesOf(bad), [], bad);
  });

  test("no zones: always empty; a fresh array each time (callers may keep it)", () => {
    const none = compileZones({});
    assert.deepEqual(none("10.0.0.1"), []);
    none("10.0.0.1").push("x");
    assert.deepEqual(none("10.0.0.1"), []);
  });

  test("a CIDR that does not parse is a caller's mistake, named", () => {
    assert.throws(() => compileZones({ corp: ["10.0.0.0/33"] }), { name: "TypeError", message: /zones\.corp\[0\]: "10\.0\.0\.0\/33"/ });
  });
});
