/**
 * A minimal MaxMind DB writer, for tests only: it builds real database files (per the MaxMind
 * DB File Format Specification 2.0, https://maxmind.github.io/MaxMind-DB/) so that the reader
 * under test (mmdb-lib) reads bytes it did not write itself.
 *
 * Layout: binary search tree (IPv6, IPv4 networks under ::/96, 24-bit records), 16 zero bytes,
 * data section, then "\xAB\xCD\xEFMaxMind.com" and the metadata map. Networks must not nest.
 */
import { parseCidr, type IpRange } from "../../../src/policy/risk/ip.js";

/** Tagged numbers pick the MMDB type; a plain number is a double, a plain integer a uint32. */
export type MmdbValue =
  | string
  | number
  | boolean
  | { $uint16: number }
  | { $uint32: number }
  | { $uint64: number }
  | { $double: number }
  | MmdbValue[]
  | { [key: string]: MmdbValue };

const T = { pointer: 1, string: 2, double: 3, bytes: 4, uint16: 5, uint32: 6, map: 7, int32: 8, uint64: 9, uint128: 10, array: 11, boolean: 14, float: 15 };

function control(type: number, size: number): number[] {
  const out: number[] = [];
  let sizeField: number;
  const sizeBytes: number[] = [];
  if (size < 29) sizeField = size;
  else if (size < 29 + 256) {
    sizeField = 29;
    sizeBytes.push(size - 29);
  } else if (size < 285 + 65536) {
    sizeField = 30;
    const v = size - 285;
    sizeBytes.push(v >> 8, v & 255);
  } else {
    sizeField = 31;
    const v = size - 65821;
    sizeBytes.push((v >> 16) & 255, (v >> 8) & 255, v & 255);
  }
  // Types above 7 are "extended": type bits 0, and the type - 7 in the next byte (spec §Data).
  out.push(((type <= 7 ? type : 0) << 5) | sizeField);
  if (type > 7) out.push(type - 7);
  out.push(...sizeBytes);
  return out;
}

function uintBytes(n: number): number[] {
  const out: number[] = [];
  let v = BigInt(n);
  while (v > 0n) {
    out.unshift(Number(v & 255n));
    v >>= 8n;
  }
  return out;
}

export function encode(value: MmdbValue): number[] {
  if (typeof value === "string") {
    const bytes = [...Buffer.from(value, "utf8")];
    return [...control(T.string, bytes.length), ...bytes];
  }
  if (typeof value === "boolean") return control(T.boolean, value ? 1 : 0);
  if (typeof value === "number") return Number.isInteger(value) && value >= 0 ? encode({ $uint32: value }) : encode({ $double: value });
  if (Array.isArray(value)) return [...control(T.array, value.length), ...value.flatMap(encode)];
  if ("$double" in value && typeof value.$double === "number") {
    const b = Buffer.alloc(8);
    b.writeDoubleBE(value.$double);
    return [...control(T.double, 8), ...b];
  }
  for (const [tag, type] of [["$uint16", T.uint16], ["$uint32", T.uint32], ["$uint64", T.uint64]] as const) {
    if (tag in value && typeof (value as Record<string, unknown>)[tag] === "number") {
      const bytes = uintBytes((value as Record<string, number>)[tag] as number);
      return [...control(type, bytes.length), ...bytes];
    }
  }
  const entries = Object.entries(value as Record<string, MmdbValue>);
  return [...control(T.map, entries.length), ...entries.flatMap(([k, v]) => [...encode(k), ...encode(v)])];
}

/** The network's bits, most significant first, in the IPv6 tree (IPv4 under ::/96). */
function networkBits(range: IpRange): number[] {
  const bits: number[] = [];
  const words = range.version === 4 ? [0, 0, 0, range.first] : [...range.first];
  const lastWords = range.version === 4 ? [0, 0, 0, range.last] : [...range.last];
  // Prefix length = number of leading bits where first and last agree (a CIDR range).
  for (let i = 0; i < 128; i++) {
    const w = Math.floor(i / 32);
    const shift = 31 - (i % 32);
    const a = Math.floor((words[w] as number) / 2 ** shift) % 2;
    const b = Math.floor((lastWords[w] as number) / 2 ** shift) % 2;
    if (a !== b) break;
    bits.push(a);
  }
  return bits;
}

type Child = { node: number } | { data: number } | null;

export interface MmdbNetwork {
  cidr: string;
  data: MmdbValue;
}

export function buildMmdb(networks: MmdbNetwork[], opts: { databaseType?: string; buildEpoch?: number } = {}): Buffer {
  const nodes: [Child, Child][] = [[null, null]];
  const data: number[] = [];
  for (const n of networks) {
    const range = parseCidr(n.cidr);
    if (range === undefined) throw new Error(`bad CIDR ${n.cidr}`);
    const offset = data.length;
    data.push(...encode(n.data));
    const bits = networkBits(range);
    let at = 0;
    for (let depth = 0; depth < bits.length; depth++) {
      const side = bits[depth] as 0 | 1;
      const node = nodes[at] as [Child, Child];
      if (depth === bits.length - 1) {
        if (node[side] !== null) throw new Error(`${n.cidr} overlaps another network`);
        node[side] = { data: offset };
        break;
      }
      const child = node[side];
      if (child !== null && "data" in child) throw new Error(`${n.cidr} is inside another network`);
      if (child === null) {
        nodes.push([null, null]);
        node[side] = { node: nodes.length - 1 };
      }
      at = (node[side] as { node: number }).node;
    }
  }
  const nodeCount = nodes.length;
  const record = (c: Child): number => (c === null ? nodeCount : "node" in c ? c.node : nodeCount + 16 + c.data);
  const tree = Buffer.alloc(nodeCount * 6);
  nodes.forEach(([l, r], i) => {
    tree.writeUIntBE(record(l), i * 6, 3);
    tree.writeUIntBE(record(r), i * 6 + 3, 3);
  });
  const metadata = encode({
    binary_format_major_version: { $uint16: 2 },
    binary_format_minor_version: { $uint16: 0 },
    build_epoch: { $uint64: opts.buildEpoch ?? 1_700_000_000 },
    database_type: opts.databaseType ?? "GeoLite2-City",
    description: { en: "Tenet test database" },
    ip_version: { $uint16: 6 },
    languages: ["en"],
    node_count: { $uint32: nodeCount },
    record_size: { $uint16: 24 },
  });
  return Buffer.concat([tree, Buffer.alloc(16), Buffer.from(data), Buffer.from([0xab, 0xcd, 0xef]), Buffer.from("MaxMind.com"), Buffer.from(metadata)]);
}

/** A GeoLite2-City-shaped record. */
export function cityRecord(city: string, country: string, latitude: number, longitude: number): MmdbValue {
  return {
    city: { geoname_id: { $uint32: 1 }, names: { en: city } },
    country: { geoname_id: { $uint32: 2 }, iso_code: country, names: { en: country } },
    location: { accuracy_radius: { $uint16: 20 }, latitude: { $double: latitude }, longitude: { $double: longitude }, time_zone: "Etc/UTC" },
  };
}
