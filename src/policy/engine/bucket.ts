/**
 * A compact set of integer ids. Most object#relation pairs hold one or a few subjects, so a bucket
 * is a bare number, then a small array, and only becomes a Set when it grows: this keeps a million
 * tuples within a few hundred bytes each.
 */
export type Bucket = number | number[] | Set<number>;

const ARRAY_LIMIT = 16;

export function bucketHas(b: Bucket | undefined, id: number): boolean {
  if (b === undefined) return false;
  if (typeof b === "number") return b === id;
  if (Array.isArray(b)) return b.includes(id);
  return b.has(id);
}

/** Returns the bucket with `id` added (the same object when mutated in place). */
export function bucketAdd(b: Bucket | undefined, id: number): Bucket {
  if (b === undefined) return id;
  if (typeof b === "number") return b === id ? b : [b, id];
  if (Array.isArray(b)) {
    if (b.includes(id)) return b;
    if (b.length < ARRAY_LIMIT) {
      b.push(id);
      return b;
    }
    const s = new Set(b);
    s.add(id);
    return s;
  }
  b.add(id);
  return b;
}

/** Returns the bucket without `id`, or undefined when it becomes empty. */
export function bucketRemove(b: Bucket | undefined, id: number): Bucket | undefined {
  if (b === undefined) return undefined;
  if (typeof b === "number") return b === id ? undefined : b;
  if (Array.isArray(b)) {
    const i = b.indexOf(id);
    if (i < 0) return b;
    b.splice(i, 1);
    if (b.length === 1) return b[0]!;
    return b.length === 0 ? undefined : b;
  }
  b.delete(id);
  if (b.size === 0) return undefined;
  return b;
}

export function bucketSize(b: Bucket | undefined): number {
  if (b === undefined) return 0;
  if (typeof b === "number") return 1;
  return Array.isArray(b) ? b.length : b.size;
}

export function bucketForEach(b: Bucket | undefined, fn: (id: number) => void): void {
  if (b === undefined) return;
  if (typeof b === "number") fn(b);
  else if (Array.isArray(b)) for (const id of b) fn(id);
  else for (const id of b) fn(id);
}

/** A snapshot of the ids (safe to iterate while the bucket changes). */
export function bucketToArray(b: Bucket | undefined): number[] {
  if (b === undefined) return [];
  if (typeof b === "number") return [b];
  return Array.isArray(b) ? b.slice() : [...b];
}
