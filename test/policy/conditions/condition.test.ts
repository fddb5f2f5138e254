import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { compileCondition, type ConditionParamTypeJson, type ContextValue } from "../../../src/policy/conditions/condition.js";
import { IPAddress } from "../../../src/policy/conditions/ipaddress.js";
import { decodeParamType, parseGoDuration, parseRfc3339 } from "../../../src/policy/conditions/param-types.js";
import { isTenetError, type TenetErrorCode } from "../../../src/errors.js";

const T = (type_name: string, ...generic_types: ConditionParamTypeJson[]): ConditionParamTypeJson =>
  generic_types.length === 0 ? { type_name } : { type_name, generic_types };
const INT = T("TYPE_NAME_INT");
const STRING = T("TYPE_NAME_STRING");

function cond(expression: string, parameters: Record<string, ConditionParamTypeJson>, name = "c") {
  return compileCondition({ name, expression, parameters });
}

function throwsCode(fn: () => unknown, code: TenetErrorCode, message?: RegExp): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(isTenetError(err), `expected TenetError, got ${String(err)}`);
    assert.equal(err.code, code, err.message);
    if (message) assert.match(err.message, message);
    return true;
  });
}

/** Evaluates a single-parameter condition with the value in the request context. */
function evalOne(type: ConditionParamTypeJson, expression: string, value: unknown): boolean {
  return cond(expression, { p: type }).evaluate(undefined, { p: value });
}

describe("compileCondition: OpenFGA conformance examples", () => {
  it("x < 100 (int)", () => {
    const c = cond("x < 100", { x: INT }, "x_less_than");
    assert.equal(c.name, "x_less_than");
    assert.deepEqual(c.parameterNames, ["x"]);
    assert.equal(c.evaluate(undefined, { x: 10 }), true);
    assert.equal(c.evaluate(undefined, { x: 101 }), false);
  });

  it("timestamp literal comparison", () => {
    const c = cond('ts < timestamp("2023-10-11T10:00:00.000Z")', { ts: T("TYPE_NAME_TIMESTAMP") });
    assert.equal(c.evaluate(undefined, { ts: "2023-10-11T09:00:00.000Z" }), true);
    assert.equal(c.evaluate(undefined, { ts: "2023-10-11T10:00:00.000Z" }), false);
    assert.equal(c.evaluate(undefined, { ts: "2023-10-11T11:00:00+02:00" }), true); // 09:00Z
  });

  it("user_ip.in_cidr(cidr)", () => {
    const c = cond("user_ip.in_cidr(cidr)", { user_ip: T("TYPE_NAME_IPADDRESS"), cidr: STRING });
    assert.equal(c.evaluate({ cidr: "192.168.0.0/24" }, { user_ip: "192.168.0.1" }), true);
    assert.equal(c.evaluate({ cidr: "192.168.0.0/24" }, { user_ip: "192.168.1.0" }), false);
  });

  it("x < y and x < 100 || y < 50", () => {
    assert.equal(cond("x < y", { x: INT, y: INT }).evaluate({ x: 1 }, { y: 2 }), true);
    const c = cond("x < 100 || y < 50", { x: INT, y: INT });
    assert.equal(c.evaluate(undefined, { x: 10, y: 5 }), true);
    assert.equal(c.evaluate(undefined, { x: 101, y: 51 }), false);
    // OpenFGA's Check errors here even though `x < 100` alone decides the result.
    throwsCode(() => c.evaluate(undefined, { x: 10 }), "condition_missing_parameters", /\by\b/);
  });

  it("double comparisons, including non-finite rejects", () => {
    const c = cond("x > 0.0", { x: T("TYPE_NAME_DOUBLE") });
    assert.equal(c.evaluate(undefined, { x: 1.797693134862315 }), true);
    assert.equal(c.evaluate(undefined, { x: -1.797693134862315 }), false);
    throwsCode(() => c.evaluate(undefined, { x: "1.79769313486231570814527423731704356798070e+309" }), "invalid_context");
    throwsCode(() => c.evaluate(undefined, { x: Infinity }), "invalid_context");
    assert.equal(cond("x < 1.5", { x: T("TYPE_NAME_DOUBLE") }).evaluate(undefined, { x: 1 }), true);
  });

  it("current_time < grant_time + grant_duration", () => {
    const c = cond("current_time < grant_time + grant_duration", {
      current_time: T("TYPE_NAME_TIMESTAMP"),
      grant_time: T("TYPE_NAME_TIMESTAMP"),
      grant_duration: T("TYPE_NAME_DURATION"),
    });
    const tuple = { grant_time: "2023-01-01T00:00:00Z", grant_duration: "1h30m" };
    assert.equal(c.evaluate(tuple, { current_time: "2023-01-01T01:29:59Z" }), true);
    assert.equal(c.evaluate(tuple, { current_time: "2023-01-01T01:30:00Z" }), false);
  });

  it('"admin" in roles (list<string>) and m["k"] == "v" (map<string>)', () => {
    const roles = cond('"admin" in roles', { roles: T("TYPE_NAME_LIST", STRING) });
    assert.equal(roles.evaluate(undefined, { roles: ["user", "admin"] }), true);
    assert.equal(roles.evaluate(undefined, { roles: [] }), false);
    const m = cond('m["k"] == "v"', { m: T("TYPE_NAME_MAP", STRING) });
    assert.equal(m.evaluate(undefined, { m: { k: "v" } }), true);
    assert.equal(m.evaluate(undefined, { m: { k: "w" } }), false);
    assert.equal(cond('"constructor" in m', { m: T("TYPE_NAME_MAP", STRING) }).evaluate(undefined, { m: {} }), false);
  });
});

describe("parameter type conversion", () => {
  it("bool and string are strict", () => {
    assert.equal(evalOne(T("TYPE_NAME_BOOL"), "p", true), true);
    throwsCode(() => evalOne(T("TYPE_NAME_BOOL"), "p", "true"), "invalid_context", /'p'.*bool/);
    assert.equal(evalOne(STRING, 'p == "a"', "a"), true);
    throwsCode(() => evalOne(STRING, 'p == "1"', 1), "invalid_context", /'p'.*string/);
    throwsCode(() => evalOne(STRING, 'p == "1"', null), "invalid_context");
  });

  it("int: integral numbers and numeric strings become bigint", () => {
    assert.equal(evalOne(INT, "p == 42", 42), true);
    assert.equal(evalOne(INT, "p == -42", "-42"), true);
    assert.equal(evalOne(INT, "p == 1000", "1e3"), true);
    assert.equal(evalOne(INT, "p == 3", 3.0), true);
    assert.equal(evalOne(INT, "p == 9223372036854775807", "9223372036854775807"), true);
    assert.equal(evalOne(INT, "p == -9223372036854775808", "-9223372036854775808"), true);
    assert.equal(evalOne(INT, "p == 1", "1.0"), true);
    assert.equal(evalOne(INT, "p == 120", "1.20e2"), true);
    assert.equal(evalOne(INT, "p == 0", "-0.000"), true);
    // Hostile numeric strings are rejected without building huge bigints.
    throwsCode(() => evalOne(INT, "p == 1", "1e-999999999"), "invalid_context", /non-integral/);
    throwsCode(() => evalOne(INT, "p == 1", "1e999999999"), "invalid_context", /out of range/);
    throwsCode(() => evalOne(INT, "p == 1", "1".repeat(100_000)), "invalid_context", /out of range/);
    for (const bad of [1.5, "1.5", "abc", "", true, null, [], {}, "9223372036854775808", 1e30]) {
      throwsCode(() => evalOne(INT, "p == 1", bad), "invalid_context", /'p'.*int/);
    }
  });

  it("uint: non-negative integers", () => {
    const u = T("TYPE_NAME_UINT");
    assert.equal(evalOne(u, "p == 7u", 7), true);
    assert.equal(evalOne(u, "p == 18446744073709551615u", "18446744073709551615"), true);
    for (const bad of [-1, "-1", 0.5, "x", "18446744073709551616"]) {
      throwsCode(() => evalOne(u, "p == 1u", bad), "invalid_context", /uint/);
    }
  });

  it("double: numbers and numeric strings", () => {
    const d = T("TYPE_NAME_DOUBLE");
    assert.equal(evalOne(d, "p == 2.5", 2.5), true);
    assert.equal(evalOne(d, "p == 2.5", "2.5"), true);
    assert.equal(evalOne(d, "p == 3.0", 3), true);
    for (const bad of ["x", ".", true, null, [1]]) throwsCode(() => evalOne(d, "p == 1.0", bad), "invalid_context", /double/);
  });

  it("duration: Go duration syntax", () => {
    const dur = T("TYPE_NAME_DURATION");
    assert.equal(evalOne(dur, 'p == duration("5400s")', "1h30m"), true);
    assert.equal(evalOne(dur, 'p == duration("10s")', "10s"), true);
    assert.equal(evalOne(dur, 'p < duration("1s")', "-1.5s"), true);
    assert.equal(evalOne(dur, 'p == duration("0s")', "0"), true);
    assert.equal(evalOne(dur, "p.getMilliseconds() == 1500", "1.5s"), true);
    for (const bad of ["", "10", "1d", "s", ".s", 10, null, "1h 30m", "9999999999h"]) {
      throwsCode(() => evalOne(dur, 'p == duration("1s")', bad), "invalid_context", /duration/);
    }
  });

  it("parseGoDuration units and edge cases", () => {
    assert.equal(parseGoDuration("300ms"), 300_000_000n);
    assert.equal(parseGoDuration("1us"), 1000n);
    assert.equal(parseGoDuration("1\u00b5s"), 1000n);
    assert.equal(parseGoDuration("2h45m"), (2n * 3600n + 45n * 60n) * 1_000_000_000n);
    assert.equal(parseGoDuration(".5s"), 500_000_000n);
    assert.equal(parseGoDuration("1.s"), 1_000_000_000n);
    assert.equal(parseGoDuration("+5ns"), 5n);
    assert.equal(parseGoDuration("-"), undefined);
    assert.equal(parseGoDuration("0000000000000000000000001s"), 1_000_000_000n);
    assert.equal(parseGoDuration("9".repeat(100_000) + "s"), undefined);
    assert.equal(parseGoDuration("0." + "5".repeat(100_000) + "s"), 555_555_555n);
    assert.equal(parseGoDuration("1x"), undefined);
  });

  it("timestamp: RFC 3339 strings", () => {
    const ts = T("TYPE_NAME_TIMESTAMP");
    assert.equal(evalOne(ts, 'p == timestamp("2024-02-29T12:00:00Z")', "2024-02-29T12:00:00Z"), true);
    assert.equal(evalOne(ts, "p.getFullYear() == 2024", "2024-02-29T23:30:00.123456789-01:00"), true);
    for (const bad of ["2023-10-11T11:00.000Z", "2023-02-29T00:00:00Z", "2023-10-11 10:00:00Z", "2023-10-11T10:00:00", "2023-13-01T00:00:00Z", "2023-10-11T24:00:00Z", 1697018400, null]) {
      throwsCode(() => evalOne(ts, "p == p", bad), "invalid_context", /timestamp/);
    }
    assert.equal(parseRfc3339("0099-01-01T00:00:00Z")?.getUTCFullYear(), 99);
    assert.equal(parseRfc3339("2023-10-11T10:00:00.999Z")?.getTime(), Date.UTC(2023, 9, 11, 10, 0, 0, 999));
  });

  it("ipaddress: IPv4 and IPv6 strings", () => {
    const ip = T("TYPE_NAME_IPADDRESS");
    assert.equal(evalOne(ip, 'p == ipaddress("10.0.0.1")', "10.0.0.1"), true);
    assert.equal(evalOne(ip, 'p == ipaddress("2001:db8::1")', "2001:DB8:0:0:0:0:0:1"), true);
    for (const bad of ["10.0.0", "10.0.0.256", "010.0.0.1", "1::2::3", "12345::", "", 167772161, null]) {
      throwsCode(() => evalOne(ip, "p == p", bad), "invalid_context", /IP address|ipaddress/);
    }
  });

  it("list and map convert elements recursively", () => {
    const li = T("TYPE_NAME_LIST", INT);
    assert.equal(evalOne(li, "p.exists(v, v == 2) && size(p) == 3", [1, "2", 3]), true);
    throwsCode(() => evalOne(li, "size(p) == 1", [1.5]), "invalid_context", /index 0/);
    throwsCode(() => evalOne(li, "size(p) == 1", { a: 1 }), "invalid_context", /list/);
    const nested = T("TYPE_NAME_MAP", T("TYPE_NAME_LIST", T("TYPE_NAME_TIMESTAMP")));
    assert.equal(evalOne(nested, 'p["a"][0] < timestamp("2030-01-01T00:00:00Z")', { a: ["2024-01-01T00:00:00Z"] }), true);
    throwsCode(() => evalOne(nested, "size(p) == 1", { a: ["nope"] }), "invalid_context", /key 'a'/);
    throwsCode(() => evalOne(nested, "size(p) == 1", [1]), "invalid_context", /map/);
    assert.equal(evalOne(T("TYPE_NAME_MAP", INT), 'p.k == 3 && has(p.k) && !has(p.z)', { k: 3 }), true);
  });

  it("any passes JSON through (numbers stay doubles, as in OpenFGA)", () => {
    const any = T("TYPE_NAME_ANY");
    assert.equal(evalOne(any, "p < 100", 5), true);
    assert.equal(evalOne(any, "p == 5", 5), true);
    assert.equal(evalOne(any, 'p.role == "admin" && p.level > 2', { role: "admin", level: 3 }), true);
    assert.equal(evalOne(any, '"x" in p', ["x"]), true);
    assert.equal(evalOne(any, "p == null", null), true);
  });

  it("decodeParamType renders OpenFGA-style names", () => {
    assert.equal(decodeParamType(T("TYPE_NAME_MAP", T("TYPE_NAME_LIST", STRING))).display, "map<list<string>>");
    assert.equal(decodeParamType(T("TYPE_NAME_MAP", T("TYPE_NAME_LIST", STRING))).celType, "map<string, list<string>>");
  });
});

describe("context merging", () => {
  const c = cond("x < 100", { x: INT });

  it("the tuple's context wins over the request's", () => {
    assert.equal(c.evaluate({ x: 1 }, { x: 500 }), true);
    assert.equal(c.evaluate({ x: 500 }, { x: 1 }), false);
  });

  it("a bad request value is ignored when the tuple provides the key, and vice versa", () => {
    assert.equal(c.evaluate({ x: 1 }, { x: "not a number" }), true);
    throwsCode(() => c.evaluate({ x: "bad" }, { x: 1 }), "invalid_context", /'x'.*int/);
  });

  it("extra keys are ignored and values are taken from either side", () => {
    assert.equal(c.evaluate({ other: "z" }, { x: 2, junk: [1, 2] }), true);
    assert.equal(c.evaluate({ x: 2 }, undefined), true);
  });

  it("cached conversion is per object and per condition", () => {
    const tuple: ContextValue = { x: 3 };
    assert.equal(c.evaluate(tuple, undefined), true);
    assert.equal(c.evaluate(tuple, {}), true);
    assert.equal(cond("x > 2", { x: INT }).evaluate(tuple, undefined), true);
  });

  it("rejects non-object contexts", () => {
    throwsCode(() => c.evaluate([1] as unknown as ContextValue, undefined), "invalid_context");
  });
});

describe("missing parameters", () => {
  it("reports referenced parameters absent from both contexts", () => {
    const c = cond("x < y", { x: INT, y: INT }, "x_less_than");
    throwsCode(() => c.evaluate(undefined, undefined), "condition_missing_parameters", /'x_less_than'.*x, y/);
    throwsCode(() => c.evaluate({ x: 1 }, {}), "condition_missing_parameters", /: y$/);
  });

  it("ignores declared but unreferenced parameters and comprehension variables", () => {
    const c = cond('l.exists(u, u == "a") && cel.bind(w, 1, w == 1)', { l: T("TYPE_NAME_LIST", STRING), u: STRING, w: INT, unused: INT });
    assert.equal(c.evaluate(undefined, { l: ["a"] }), true);
  });

  it("counts a parameter used as the bind value", () => {
    const c = cond("cel.bind(v, x, v > 1)", { x: INT });
    throwsCode(() => c.evaluate(undefined, {}), "condition_missing_parameters", /x/);
  });
});

describe("compile errors", () => {
  const compileErr = (expression: string, parameters: Record<string, ConditionParamTypeJson>, message: RegExp) =>
    throwsCode(() => compileCondition({ name: "bad_cond", expression, parameters }), "invalid_condition", message);

  it("bad syntax", () => compileErr("x < ", { x: INT }, /'bad_cond'.*syntax/));
  it("empty expression", () => compileErr("  ", { x: INT }, /'bad_cond'.*empty/));
  it("non-bool expression", () => compileErr("x + 1", { x: INT }, /'bad_cond'.*bool.*int/));
  it("dyn result is not bool", () => compileErr("m.k", { m: T("TYPE_NAME_MAP", T("TYPE_NAME_ANY")) }, /bool/));
  it("undeclared variable", () => compileErr("x < z", { x: INT }, /'bad_cond'.*z/));
  it("type mismatch", () => compileErr('x < "a"', { x: INT }, /'bad_cond'/));
  it("unknown parameter type", () => compileErr("x", { x: T("TYPE_NAME_FLOAT") }, /'x'.*TYPE_NAME_FLOAT/));
  it("wrong generic arity", () => {
    compileErr('"a" in l', { l: T("TYPE_NAME_LIST") }, /TYPE_NAME_LIST.*1 generic/);
    compileErr("x == 1", { x: T("TYPE_NAME_INT", STRING) }, /TYPE_NAME_INT.*0 generic/);
    compileErr("size(m) == 1", { m: T("TYPE_NAME_MAP", STRING, STRING) }, /TYPE_NAME_MAP/);
  });
  it("reserved parameter name", () => compileErr("true", { __proto__x: INT, while: INT }, /while/));
  it("in_cidr on a string is a type error", () => compileErr('s.in_cidr("10.0.0.0/8")', { s: STRING }, /bad_cond/));
});

describe("runtime errors", () => {
  it("maps CEL evaluation errors to condition_evaluation_error", () => {
    const c = cond("10 / x == 1", { x: INT });
    throwsCode(() => c.evaluate(undefined, { x: 0 }), "condition_evaluation_error", /'c'/);
    const m = cond('m["missing"] == "v"', { m: T("TYPE_NAME_MAP", STRING) });
    throwsCode(() => m.evaluate(undefined, { m: {} }), "condition_evaluation_error");
  });

  it("a malformed CIDR is an evaluation error", () => {
    const c = cond("ip.in_cidr(cidr)", { ip: T("TYPE_NAME_IPADDRESS"), cidr: STRING });
    throwsCode(() => c.evaluate(undefined, { ip: "10.0.0.1", cidr: "10.0.0.0/33" }), "condition_evaluation_error", /malformed CIDR/);
  });
});

describe("ipaddress", () => {
  const inCidr = (ip: string, cidr: string): boolean => {
    const addr = IPAddress.parse(ip);
    assert.ok(addr, ip);
    return addr.inCidr(cidr);
  };

  it("IPv4 CIDR membership", () => {
    assert.equal(inCidr("192.168.0.255", "192.168.0.0/24"), true);
    assert.equal(inCidr("192.168.1.0", "192.168.0.0/24"), false);
    assert.equal(inCidr("10.1.2.3", "10.9.9.9/8"), true); // host bits in the prefix are allowed
    assert.equal(inCidr("1.2.3.4", "0.0.0.0/0"), true);
    assert.equal(inCidr("1.2.3.4", "1.2.3.4/32"), true);
    assert.equal(inCidr("1.2.3.5", "1.2.3.4/32"), false);
  });

  it("IPv6 CIDR membership", () => {
    assert.equal(inCidr("2001:db8::1", "2001:db8::/32"), true);
    assert.equal(inCidr("2001:db9::1", "2001:db8::/32"), false);
    assert.equal(inCidr("::1", "::1/128"), true);
    assert.equal(inCidr("fe80::1%eth0", "fe80::/10"), false); // zoned addresses match no prefix (netip)
    assert.equal(inCidr("::ffff:10.0.0.1", "::ffff:10.0.0.0/120"), true);
  });

  it("address families never mix", () => {
    assert.equal(inCidr("10.0.0.1", "::/0"), false);
    assert.equal(inCidr("::ffff:10.0.0.1", "10.0.0.0/8"), false);
  });

  it("rejects malformed CIDRs", () => {
    for (const cidr of ["10.0.0.0", "10.0.0.0/", "10.0.0.0/33", "::/129", "10.0.0.0/08", "fe80::%eth0/10", "x/8"]) {
      assert.throws(() => inCidr("10.0.0.1", cidr), /malformed CIDR/, cidr);
    }
  });

  it("canonical string form", () => {
    const str = (ip: string): string => String(IPAddress.parse(ip));
    assert.equal(str("2001:0DB8:0000:0000:0000:0000:0000:0001"), "2001:db8::1");
    assert.equal(str("1:0:0:2:0:0:0:3"), "1:0:0:2::3");
    assert.equal(str("::"), "::");
    assert.equal(str("::ffff:1.2.3.4"), "::ffff:1.2.3.4");
    assert.equal(str("1:2:3:4:5:6:7:8"), "1:2:3:4:5:6:7:8");
    assert.equal(str("1:2:3:4:5:6:1.2.3.4"), "1:2:3:4:5:6:102:304");
    assert.equal(IPAddress.parse("1:2:3:4:5:6:7::8"), undefined); // "::" must stand for >= 1 group
  });

  it("works from CEL: ipaddress(), ==, string()", () => {
    const c = cond('ip == ipaddress("::1") && string(ip) == "::1" && ip.in_cidr("::/64")', { ip: T("TYPE_NAME_IPADDRESS") });
    assert.equal(c.evaluate(undefined, { ip: "0:0:0:0:0:0:0:1" }), true);
    throwsCode(() => cond('ipaddress("nope") == ip', { ip: T("TYPE_NAME_IPADDRESS") }).evaluate(undefined, { ip: "::1" }), "condition_evaluation_error");
  });
});
