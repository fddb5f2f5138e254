/**
 * ULIDs (https://github.com/ulid/spec): 48-bit millisecond time + 80 random bits, Crockford
 * base32. OpenFGA uses them for store and model ids; they sort by creation time, and this
 * generator is monotonic within a process (same millisecond → random part incremented).
 */
import { randomBytes } from "node:crypto";

const ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";
let lastTime = -1;
let lastTimeText = "";
let lastRandom: number[] = [];

function encodeTime(t: number): string {
  let out = "";
  for (let i = 0; i < 10; i++) {
    out = ALPHABET[t % 32]! + out;
    t = Math.floor(t / 32);
  }
  return out;
}

function freshRandom(): number[] {
  const bytes = randomBytes(16);
  return Array.from({ length: 16 }, (_, i) => bytes[i]! % 32);
}

export function ulid(now = Date.now()): string {
  if (now <= lastTime) {
    // Increment the random part so ids stay strictly increasing.
    let i = 15;
    while (i >= 0 && lastRandom[i] === 31) lastRandom[i--] = 0;
    if (i >= 0) lastRandom[i]! += 1;
    now = lastTime;
  } else {
    lastTime = now;
    lastTimeText = encodeTime(now);
    lastRandom = freshRandom();
  }
  // Decision ids are made at up to 100k/s: a plain loop is several times cheaper than map/join.
  let out = lastTimeText;
  for (let i = 0; i < 16; i++) out += ALPHABET[lastRandom[i]!];
  return out;
}

export const ULID_PATTERN = /^[0-7][0-9A-HJKMNP-TV-Z]{25}$/;
