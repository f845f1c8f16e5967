/**
 * Finding ids: UUID version 7 (RFC 9562), time-ordered. A full re-match inserts hundreds of thousands of
 * findings at once; random (version 4) keys would land all over the primary-key index and make every
 * insert a page miss, time-ordered keys append at its end. Node 20 offers only version 4, and no
 * generator is among the installed libraries, so the few lines are written here.
 */
import { randomBytes } from "node:crypto";

let lastMs = 0;
/** The 74 random bits after the timestamp, as a 12-bit and a 62-bit part; incremented within one millisecond. */
let randA = 0;
let randB = 0n;
const MAX_B = (1n << 62n) - 1n;

function reseed(): void {
  const bytes = randomBytes(10);
  randA = ((bytes[0] ?? 0) << 4) | ((bytes[1] ?? 0) >> 4);
  randB = bytes.subarray(2).readBigUInt64BE() & (MAX_B >> 1n);
}

/**
 * A new UUIDv7. Within one process ids strictly increase (RFC 9562 §6.2 method 1: a counter in the
 * random bits, seeded randomly each millisecond, half its range left for increments).
 */
export function newFindingId(now: number = Date.now()): string {
  if (now > lastMs) {
    lastMs = now;
    reseed();
  } else if (randB < MAX_B) {
    randB += 1n;
  } else {
    // Counter exhausted within one millisecond: borrow the next millisecond, as the RFC allows.
    lastMs += 1;
    reseed();
  }
  const ms = lastMs.toString(16).padStart(12, "0");
  const a = (0x7000 | (randA & 0xfff)).toString(16);
  const b = ((0b10n << 62n) | randB).toString(16).padStart(16, "0");
  return `${ms.slice(0, 8)}-${ms.slice(8, 12)}-${a}-${b.slice(0, 4)}-${b.slice(4)}`;
}
