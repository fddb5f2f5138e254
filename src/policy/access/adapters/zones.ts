/**
 * Named network zones (`corp`, `vpn`, …): CIDR sets from the access configuration, exposed to
 * access-policy conditions as `request.zones`, the names of every zone holding the client address.
 *
 * Zones may overlap (`corp` 10.0.0.0/8 and `lab` 10.1.0.0/16), and an address must get both names,
 * so each zone has its own IpRangeTable (which keeps one answer per address) and a lookup asks
 * each: O(zones × log ranges), a handful of binary searches per decision.
 */
import { parseCidr, parseIp } from "../../risk/ip.js";
import { IpRangeTable } from "../../risk/ip-range-table.js";

/**
 * Compiles `zones` (name → CIDRs or addresses) into `zonesOf(ip)`. Throws TypeError for a CIDR
 * that does not parse: the configuration schema has refused those already, so this is a caller's
 * mistake. An address that does not parse is in no zone (a condition on zones then does not hold).
 */
export function compileZones(zones: Readonly<Record<string, readonly string[]>>): (ip: string) => string[] {
  const compiled: Array<{ name: string; table: IpRangeTable<true> }> = [];
  for (const [name, cidrs] of Object.entries(zones)) {
    const entries = cidrs.map((text, i) => {
      const range = parseCidr(text.trim());
      if (range === undefined) throw new TypeError(`zones.${name}[${i}]: ${JSON.stringify(text)} is not an IP address or CIDR range`);
      return { range, value: true as const };
    });
    compiled.push({ name, table: new IpRangeTable(entries) });
  }
  if (compiled.length === 0) return () => [];
  return (ip: string) => {
    const addr = typeof ip === "string" ? parseIp(ip) : undefined;
    if (addr === undefined) return [];
    const out: string[] = [];
    for (const z of compiled) if (z.table.find(addr) !== undefined) out.push(z.name);
    return out;
  };
}
