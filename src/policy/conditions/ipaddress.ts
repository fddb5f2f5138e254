/**
 * The `ipaddress` condition parameter type and its `in_cidr` method.
 *
 * Mirrors OpenFGA's `internal/condition/types/ipaddress.go`, which is built on Go's `net/netip`:
 * - addresses parse like `netip.ParseAddr` (strict dotted-quad IPv4 without leading zeros, IPv6
 *   with `::` compression, an optional embedded IPv4 tail and an optional `%zone`);
 * - `ip.in_cidr("10.0.0.0/8")` is `netip.ParsePrefix(cidr).Contains(ip)`: an IPv4 address is never
 *   inside an IPv6 prefix (not even `::ffff:a.b.c.d` forms, which stay 128-bit), a zoned address is
 *   never inside any prefix, and host bits in the prefix are allowed ("10.1.2.3/8" is fine);
 * - a malformed CIDR is an evaluation error, not `false`.
 */
import { EvaluationError, type Environment } from "@marcbachmann/cel-js";

/** The CEL type name, as in OpenFGA (`cel.ObjectType("IPAddress")`); users write `ipaddress` in the DSL. */
export const IPADDRESS_CEL_TYPE = "IPAddress";

export class IPAddress {
  readonly #bits: 32 | 128;
  readonly #value: bigint;
  readonly #zone: string;

  private constructor(bits: 32 | 128, value: bigint, zone: string) {
    this.#bits = bits;
    this.#value = value;
    this.#zone = zone;
  }

  /** Parses an address; returns undefined when it is not a well-formed IPv4/IPv6 address. */
  static parse(text: string): IPAddress | undefined {
    if (text.includes(":")) {
      const pct = text.indexOf("%");
      const zone = pct === -1 ? "" : text.slice(pct + 1);
      if (pct !== -1 && zone === "") return undefined; // netip rejects an empty zone
      const value = parseIPv6(pct === -1 ? text : text.slice(0, pct));
      return value === undefined ? undefined : new IPAddress(128, value, zone);
    }
    const value = parseIPv4(text);
    return value === undefined ? undefined : new IPAddress(32, BigInt(value), "");
  }

  /** `netip.Prefix.Contains` semantics; throws EvaluationError for a malformed CIDR. */
  inCidr(cidr: string): boolean {
    const prefix = parseCidr(cidr);
    if (prefix === undefined) throw new EvaluationError(`'${cidr}' is a malformed CIDR string`);
    if (this.#zone !== "" || prefix.bits !== this.#bits) return false;
    const shift = BigInt(prefix.bits - prefix.length);
    return this.#value >> shift === prefix.value >> shift;
  }

  equals(other: IPAddress): boolean {
    return this.#bits === other.#bits && this.#value === other.#value && this.#zone === other.#zone;
  }

  /** Canonical text, like Go's `netip.Addr.String()` (RFC 5952 for IPv6). */
  toString(): string {
    if (this.#bits === 32) return formatIPv4(Number(this.#value));
    const groups: number[] = [];
    for (let i = 7; i >= 0; i--) groups.push(Number((this.#value >> BigInt(i * 16)) & 0xffffn));
    const zone = this.#zone === "" ? "" : `%${this.#zone}`;
    if (this.#value >> 32n === 0xffffn) return `::ffff:${formatIPv4(Number(this.#value & 0xffffffffn))}${zone}`;
    // Compress the longest run (>= 2) of zero groups, the first one on ties.
    let bestStart = -1;
    let bestLen = 1;
    for (let i = 0; i < 8; ) {
      if (groups[i] !== 0) { i++; continue; }
      let j = i;
      while (j < 8 && groups[j] === 0) j++;
      if (j - i > bestLen) { bestStart = i; bestLen = j - i; }
      i = j;
    }
    const hex = (gs: number[]): string => gs.map((g) => g.toString(16)).join(":");
    const text = bestStart === -1
      ? hex(groups)
      : `${hex(groups.slice(0, bestStart))}::${hex(groups.slice(bestStart + bestLen))}`;
    return text + zone;
  }
}

/** Registers the type, `ipaddress(string)`, `.in_cidr(string)`, `==` and `string(ip)` on a base environment. */
export function registerIpAddress(env: Environment): Environment {
  return env
    // No fields: otherwise the library lets expressions select any property (`ip.inCidr`).
    .registerType(IPADDRESS_CEL_TYPE, { ctor: IPAddress, fields: {} })
    .registerFunction(`ipaddress(string): ${IPADDRESS_CEL_TYPE}`, (text: string) => {
      const ip = IPAddress.parse(text);
      if (ip === undefined) throw new EvaluationError(`'${text}' is not a well-formed IP address`);
      return ip;
    })
    .registerFunction(`${IPADDRESS_CEL_TYPE}.in_cidr(string): bool`, (ip: IPAddress, cidr: string) => ip.inCidr(cidr))
    .registerFunction(`string(${IPADDRESS_CEL_TYPE}): string`, (ip: IPAddress) => ip.toString())
    .registerOperator(`${IPADDRESS_CEL_TYPE} == ${IPADDRESS_CEL_TYPE}`, (a: IPAddress, b: IPAddress) => a.equals(b));
}

// --- parsing ---------------------------------------------------------------------------------

const IPV4_OCTET = /^(?:0|[1-9][0-9]{0,2})$/;

function parseIPv4(text: string): number | undefined {
  const parts = text.split(".");
  if (parts.length !== 4) return undefined;
  let value = 0;
  for (const part of parts) {
    if (!IPV4_OCTET.test(part)) return undefined; // rejects "", "01", "+1", "1e2"
    const octet = Number(part);
    if (octet > 255) return undefined;
    value = value * 256 + octet;
  }
  return value;
}

function formatIPv4(value: number): string {
  return `${(value >>> 24) & 255}.${(value >>> 16) & 255}.${(value >>> 8) & 255}.${value & 255}`;
}

const IPV6_GROUP = /^[0-9a-fA-F]{1,4}$/;

function parseIPv6(text: string): bigint | undefined {
  const halves = text.split("::");
  if (halves.length > 2) return undefined;
  const compressed = halves.length === 2;
  // An embedded IPv4 part is only allowed at the very end of the address.
  const head = parseGroups(halves[0] ?? "", !compressed);
  const tail = compressed ? parseGroups(halves[1] ?? "", true) : [];
  if (head === undefined || tail === undefined) return undefined;
  const missing = 8 - head.length - tail.length;
  // Like netip: without "::" exactly 8 groups; "::" must stand for at least one zero group.
  if (compressed ? missing < 1 : missing !== 0) return undefined;
  const groups = compressed ? [...head, ...new Array<number>(missing).fill(0), ...tail] : head;
  let value = 0n;
  for (const g of groups) value = (value << 16n) | BigInt(g);
  return value;
}

/** Parses colon-separated hex groups; an IPv4 tail (when allowed) becomes two 16-bit groups. */
function parseGroups(text: string, allowV4Tail: boolean): number[] | undefined {
  if (text === "") return [];
  const parts = text.split(":");
  const groups: number[] = [];
  for (let i = 0; i < parts.length; i++) {
    const part = parts[i] ?? "";
    if (allowV4Tail && i === parts.length - 1 && part.includes(".")) {
      const v4 = parseIPv4(part);
      if (v4 === undefined) return undefined;
      groups.push(Math.floor(v4 / 65536), v4 % 65536);
    } else {
      if (!IPV6_GROUP.test(part)) return undefined;
      groups.push(parseInt(part, 16));
    }
  }
  return groups;
}

interface Prefix { readonly bits: 32 | 128; readonly length: number; readonly value: bigint }

// Conditions nearly always use a handful of literal CIDRs, so parsed prefixes are memoised;
// the map is bounded so hostile request contexts cannot grow it without limit.
const cidrCache = new Map<string, Prefix | null>();
const CIDR_CACHE_MAX = 1024;

function parseCidr(cidr: string): Prefix | undefined {
  const cached = cidrCache.get(cidr);
  if (cached !== undefined) return cached ?? undefined;
  const prefix = parseCidrUncached(cidr);
  if (cidrCache.size >= CIDR_CACHE_MAX) cidrCache.clear();
  cidrCache.set(cidr, prefix ?? null);
  return prefix;
}

function parseCidrUncached(cidr: string): Prefix | undefined {
  const slash = cidr.lastIndexOf("/");
  if (slash === -1) return undefined;
  const addrText = cidr.slice(0, slash);
  const lenText = cidr.slice(slash + 1);
  if (!/^(?:0|[1-9][0-9]{0,2})$/.test(lenText)) return undefined;
  const length = Number(lenText);
  // netip.ParsePrefix rejects zones, so the raw parsers are used (they reject '%').
  if (addrText.includes(":")) {
    const value = parseIPv6(addrText);
    return value === undefined || length > 128 ? undefined : { bits: 128, length, value };
  }
  const value = parseIPv4(addrText);
  return value === undefined || length > 32 ? undefined : { bits: 32, length, value: BigInt(value) };
}
