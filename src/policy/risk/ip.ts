/**
 * IP addresses and CIDR ranges as plain numbers, parsed by hand: this runs on every access
 * decision, so no regular expressions and no BigInt. IPv4 is one unsigned 32-bit number; IPv6
 * is four of them, most significant first (compared word by word).
 *
 * Text forms follow RFC 4291 §2.2 (with `::` compression and an embedded IPv4 tail) and the
 * dotted quad without leading zeros (an octet like `010` is ambiguous: octal to some parsers, so
 * it is refused rather than guessed). An IPv4-mapped IPv6 address (`::ffff:192.0.2.1`, RFC 4291
 * §2.5.5.2) is the IPv4 address: dual-stack sockets report IPv4 clients that way, and a deny
 * list must not be bypassed by the spelling. A `%zone` suffix is ignored.
 */

export type Words = readonly [number, number, number, number];

export type IpAddr = { readonly version: 4; readonly n: number } | { readonly version: 6; readonly w: Words };

export type IpRange =
  | { readonly version: 4; readonly first: number; readonly last: number }
  | { readonly version: 6; readonly first: Words; readonly last: Words };

/** Parses an address; undefined when it is not one. */
export function parseIp(text: string): IpAddr | undefined {
  if (text.indexOf(":") === -1) {
    const n = parseV4(text, 0, text.length);
    return n < 0 ? undefined : { version: 4, n };
  }
  let end = text.indexOf("%");
  if (end === -1) end = text.length;
  else if (!validZone(text, end + 1)) return undefined;
  const w = parseV6(text, end);
  if (w === undefined) return undefined;
  if (w[0] === 0 && w[1] === 0 && w[2] === 0xffff) return { version: 4, n: w[3] };
  return { version: 6, w };
}

/** Parses `addr/len` or a bare address (a /32 or /128); host bits below the prefix are ignored. */
export function parseCidr(text: string): IpRange | undefined {
  const slash = text.indexOf("/");
  const addr = slash === -1 ? text : text.slice(0, slash);
  let len = -1;
  if (slash !== -1) {
    len = parsePrefixLength(text, slash + 1);
    if (len < 0) return undefined;
  }
  if (addr.indexOf(":") === -1) {
    const n = parseV4(addr, 0, addr.length);
    if (n < 0 || len > 32) return undefined;
    return v4Range(n, len === -1 ? 32 : len);
  }
  if (addr.indexOf("%") !== -1) return undefined; // a prefix has no zone
  const w = parseV6(addr, addr.length);
  if (w === undefined || len > 128) return undefined;
  const bits = len === -1 ? 128 : len;
  // An IPv4-mapped prefix is the IPv4 prefix, as for addresses.
  if (w[0] === 0 && w[1] === 0 && w[2] === 0xffff && bits >= 96) return v4Range(w[3], bits - 96);
  return v6Range(w, bits);
}

/** Canonical-enough text (dotted quad; IPv6 as eight uncompressed hex groups). */
export function formatIp(ip: IpAddr): string {
  if (ip.version === 4) return formatV4(ip.n);
  const groups: string[] = [];
  for (const word of ip.w) groups.push((word >>> 16).toString(16), (word & 0xffff).toString(16));
  return groups.join(":");
}

export function formatV4(n: number): string {
  return `${(n >>> 24) & 255}.${(n >>> 16) & 255}.${(n >>> 8) & 255}.${n & 255}`;
}

/** Compares two IPv6 addresses as 128-bit numbers. */
export function compareWords(a: Words, b: Words): number {
  for (let i = 0; i < 4; i++) {
    const d = (a[i] as number) - (b[i] as number);
    if (d !== 0) return d;
  }
  return 0;
}

// --- parsing ---------------------------------------------------------------------------------

/** A zone id (RFC 6874): 1..32 of [A-Za-z0-9._~-], so the text is safe to repeat in a reason. */
function validZone(text: string, from: number): boolean {
  const len = text.length - from;
  if (len < 1 || len > 32) return false;
  for (let i = from; i < text.length; i++) {
    const c = text.charCodeAt(i);
    const ok = (c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c === 46 || c === 95 || c === 126 || c === 45;
    if (!ok) return false;
  }
  return true;
}

function parsePrefixLength(text: string, from: number): number {
  const digits = text.length - from;
  if (digits < 1 || digits > 3) return -1;
  let n = 0;
  for (let i = from; i < text.length; i++) {
    const c = text.charCodeAt(i) - 48;
    if (c < 0 || c > 9) return -1;
    if (i === from && c === 0 && digits > 1) return -1; // "08"
    n = n * 10 + c;
  }
  return n;
}

/** A dotted quad in text[start, end) as an unsigned number, or -1. */
function parseV4(text: string, start: number, end: number): number {
  let value = 0;
  let octet = 0;
  let digits = 0;
  let dots = 0;
  for (let i = start; i < end; i++) {
    const c = text.charCodeAt(i);
    if (c >= 48 && c <= 57) {
      if (digits > 0 && octet === 0) return -1; // a leading zero
      octet = octet * 10 + (c - 48);
      if (++digits > 3 || octet > 255) return -1;
    } else if (c === 46) {
      if (digits === 0 || ++dots > 3) return -1;
      value = value * 256 + octet;
      octet = 0;
      digits = 0;
    } else {
      return -1;
    }
  }
  if (dots !== 3 || digits === 0) return -1;
  return value * 256 + octet;
}

function hexValue(c: number): number {
  if (c >= 48 && c <= 57) return c - 48;
  if (c >= 97 && c <= 102) return c - 87;
  if (c >= 65 && c <= 70) return c - 55;
  return -1;
}

/** IPv6 text[0, end) as four words, or undefined. */
function parseV6(text: string, end: number): Words | undefined {
  const g = [0, 0, 0, 0, 0, 0, 0, 0];
  let n = 0; // groups parsed
  let gap = -1; // where `::` stands
  let i = 0;
  if (end >= 2 && text.charCodeAt(0) === 58 && text.charCodeAt(1) === 58) {
    gap = 0;
    i = 2;
  }
  while (i < end) {
    let j = i;
    let v = 0;
    while (j < end) {
      const h = hexValue(text.charCodeAt(j));
      if (h < 0) break;
      v = v * 16 + h;
      if (++j - i > 4) return undefined;
    }
    if (j < end && text.charCodeAt(j) === 46) {
      // An embedded IPv4 tail: the last 32 bits.
      if (n > 6) return undefined;
      const v4 = parseV4(text, i, end);
      if (v4 < 0) return undefined;
      g[n++] = v4 >>> 16;
      g[n++] = v4 & 0xffff;
      break;
    }
    if (j === i || n >= 8) return undefined;
    g[n++] = v;
    if (j === end) break;
    if (text.charCodeAt(j) !== 58) return undefined;
    j++;
    if (j < end && text.charCodeAt(j) === 58) {
      if (gap !== -1) return undefined;
      gap = n;
      j++;
    } else if (j === end) {
      return undefined; // a trailing single colon
    }
    i = j;
  }
  if (gap === -1) {
    if (n !== 8) return undefined;
  } else {
    if (n > 7) return undefined; // `::` stands for at least one group
    const tail = n - gap;
    for (let k = 0; k < tail; k++) g[7 - k] = g[n - 1 - k] as number;
    for (let k = gap; k < 8 - tail; k++) g[k] = 0;
  }
  return [
    (g[0] as number) * 65536 + (g[1] as number),
    (g[2] as number) * 65536 + (g[3] as number),
    (g[4] as number) * 65536 + (g[5] as number),
    (g[6] as number) * 65536 + (g[7] as number),
  ];
}

// --- ranges ----------------------------------------------------------------------------------

function v4Range(n: number, len: number): IpRange {
  const size = 2 ** (32 - len);
  const first = Math.floor(n / size) * size;
  return { version: 4, first, last: first + size - 1 };
}

function v6Range(w: Words, len: number): IpRange {
  const first = [0, 0, 0, 0];
  const last = [0, 0, 0, 0];
  for (let k = 0; k < 4; k++) {
    const keep = Math.min(32, Math.max(0, len - 32 * k)); // prefix bits inside this word
    const size = 2 ** (32 - keep);
    first[k] = Math.floor((w[k] as number) / size) * size;
    last[k] = (first[k] as number) + size - 1;
  }
  return { version: 6, first: first as unknown as Words, last: last as unknown as Words };
}
