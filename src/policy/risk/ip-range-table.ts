/**
 * A compiled set of CIDR ranges, each with a value, answering "which range holds this address"
 * in O(log n): sorted starts in typed arrays and a binary search, one table per IP version.
 *
 * Two CIDR ranges are either disjoint or one holds the other, so after dropping every range
 * held by an earlier (wider) one the rest are disjoint and sorted, and the one candidate for an
 * address is the last range starting at or below it. The wider range wins: for a deny list it
 * does not matter which entry matched, and for geolocation overlapping entries are a data error
 * the wider, first-listed entry resolves the same way every time.
 */
import { compareWords, type IpAddr, type IpRange, type Words } from "./ip.js";

export interface RangeEntry<T> {
  range: IpRange;
  value: T;
}

export class IpRangeTable<T> {
  readonly #v4First: Uint32Array;
  readonly #v4Last: Uint32Array;
  readonly #v4Values: T[];
  /** Four words per range. */
  readonly #v6First: Uint32Array;
  readonly #v6Last: Uint32Array;
  readonly #v6Values: T[];

  constructor(entries: Iterable<RangeEntry<T>>) {
    const v4: { first: number; last: number; value: T; order: number }[] = [];
    const v6: { first: Words; last: Words; value: T; order: number }[] = [];
    let order = 0;
    for (const e of entries) {
      if (e.range.version === 4) v4.push({ first: e.range.first, last: e.range.last, value: e.value, order: order++ });
      else v6.push({ first: e.range.first, last: e.range.last, value: e.value, order: order++ });
    }
    // Wider first among equal starts, then input order: the kept entry is always the same one.
    v4.sort((a, b) => a.first - b.first || b.last - a.last || a.order - b.order);
    v6.sort((a, b) => compareWords(a.first, b.first) || compareWords(b.last, a.last) || a.order - b.order);

    const keep4 = [];
    for (const r of v4) {
      const prev = keep4[keep4.length - 1];
      if (prev === undefined || r.first > prev.last) keep4.push(r);
    }
    const keep6 = [];
    for (const r of v6) {
      const prev = keep6[keep6.length - 1];
      if (prev === undefined || compareWords(r.first, prev.last) > 0) keep6.push(r);
    }

    this.#v4First = Uint32Array.from(keep4, (r) => r.first);
    this.#v4Last = Uint32Array.from(keep4, (r) => r.last);
    this.#v4Values = keep4.map((r) => r.value);
    this.#v6First = new Uint32Array(keep6.length * 4);
    this.#v6Last = new Uint32Array(keep6.length * 4);
    keep6.forEach((r, i) => {
      this.#v6First.set(r.first, i * 4);
      this.#v6Last.set(r.last, i * 4);
    });
    this.#v6Values = keep6.map((r) => r.value);
  }

  /** Ranges kept after dropping nested ones. */
  get size(): number {
    return this.#v4Values.length + this.#v6Values.length;
  }

  /** The value of the range holding `ip`, or undefined. */
  find(ip: IpAddr): T | undefined {
    return ip.version === 4 ? this.#find4(ip.n) : this.#find6(ip.w);
  }

  #find4(n: number): T | undefined {
    const first = this.#v4First;
    let lo = 0;
    let hi = first.length - 1;
    let at = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      if ((first[mid] as number) <= n) {
        at = mid;
        lo = mid + 1;
      } else {
        hi = mid - 1;
      }
    }
    return at >= 0 && n <= (this.#v4Last[at] as number) ? this.#v4Values[at] : undefined;
  }

  #find6(w: Words): T | undefined {
    const first = this.#v6First;
    let lo = 0;
    let hi = this.#v6Values.length - 1;
    let at = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      if (compareAt(first, mid * 4, w) <= 0) {
        at = mid;
        lo = mid + 1;
      } else {
        hi = mid - 1;
      }
    }
    return at >= 0 && compareAt(this.#v6Last, at * 4, w) >= 0 ? this.#v6Values[at] : undefined;
  }
}

/** Compares the address stored at `words[offset..offset+3]` with `w`. */
function compareAt(words: Uint32Array, offset: number, w: Words): number {
  for (let i = 0; i < 4; i++) {
    const d = (words[offset + i] as number) - (w[i] as number);
    if (d !== 0) return d;
  }
  return 0;
}
