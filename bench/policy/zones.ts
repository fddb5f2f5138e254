/**
 * Named network zones for `request.zones`, as a deployment would configure them: a few CIDR
 * lists (corporate ranges, Tor exits, a deny list, embargoed networks). IPv4 ranges are matched
 * by masking; IPv6 by prefix on the expanded text (only the documentation range is used here).
 */

interface V4Range {
  base: number;
  mask: number;
  zone: string;
}

function v4(text: string): number | undefined {
  const parts = text.split(".");
  if (parts.length !== 4) return undefined;
  let n = 0;
  for (const p of parts) {
    const o = Number(p);
    if (!Number.isInteger(o) || o < 0 || o > 255 || p === "") return undefined;
    n = n * 256 + o;
  }
  return n >>> 0;
}

function range(cidr: string, zone: string): V4Range {
  const [addr, bits] = cidr.split("/");
  const len = Number(bits ?? 32);
  const mask = len === 0 ? 0 : (0xffffffff << (32 - len)) >>> 0;
  return { base: (v4(addr!)! & mask) >>> 0, mask, zone };
}

export const ZONE_CIDRS: Array<[string, string]> = [
  ["10.0.0.0/8", "corp"],
  ["172.16.0.0/12", "corp"],
  ["185.220.100.0/22", "tor"],
  ["45.155.205.0/24", "blocked"],
  ["5.160.0.0/16", "embargoed"],
];

const V4 = ZONE_CIDRS.map(([c, z]) => range(c, z));
const V6: Array<[string, string]> = [["2001:db8:", "corp-v6"]];
const NONE: string[] = [];

/** The zones an address falls in (one shared empty array when none). */
export function zonesOf(ip: string): string[] {
  if (ip.includes(":")) {
    const out: string[] = [];
    for (const [prefix, zone] of V6) if (ip.toLowerCase().startsWith(prefix)) out.push(zone);
    return out.length ? out : NONE;
  }
  const n = v4(ip);
  if (n === undefined) return NONE;
  const out: string[] = [];
  for (const r of V4) if (((n & r.mask) >>> 0) === r.base) out.push(r.zone);
  return out.length ? out : NONE;
}
