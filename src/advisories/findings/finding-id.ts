/**
 * Finding ids: UUID version 7 (RFC 9562), time-ordered. A full re-match inserts hundreds of thousands of
 * findings at once; random (version 4) keys would land all over the primary-key index and make every
 * insert a page miss, time-ordered keys append at its end. Node 20 offers only version 4, and no
 * generator is among the installed libraries, so the few lines are written here.
 */
import { randomBytes } from "node:crypto";

let lastMs = 0;
// The 74 bits after the timestamp: 12 bits (rand_a), then 62 bits (rand_b) kept as a 30-bit high and a
// 32-bit low number, so incrementing needs no BigInt.
let randA = 0;
let high = 0;
let low = 0;
const LOW = 2 ** 32;
const HIGH_MAX = 2 ** 30 - 1;

function reseed(): void {
  const bytes = randomBytes(10);
  randA = bytes.readUInt16BE(0) & 0xfff;
  // The top bit of rand_b stays clear: half the range is left for increments within the millisecond.
  high = bytes.readUInt32BE(2) & (2 ** 29 - 1);
  low = bytes.readUInt32BE(6);
}

const hex = (n: number, width: number) => n.toString(16).padStart(width, "0");

/**
 * A new UUIDv7. Within one process ids strictly increase (RFC 9562 §6.2 method 1: a counter in the
 * random bits, seeded randomly each millisecond).
 */
export function newFindingId(now: number = Date.now()): string {
  if (now > lastMs) {
    lastMs = now;
    reseed();
  } else if (low < LOW - 1) {
    low += 1;
  } else if (high < HIGH_MAX) {
    high += 1;
    low = 0;
  } else {
    // Counter exhausted within one millisecond: borrow the next millisecond, as the RFC allows.
    lastMs += 1;
    reseed();
  }
  const ms = hex(lastMs, 12);
  // Variant bits 10, then the 62-bit counter: 2 + 30 high bits, then 32 low bits.
  const b = hex(0x80000000 + high, 8);
  return `${ms.slice(0, 8)}-${ms.slice(8, 12)}-${hex(0x7000 | randA, 4)}-${b.slice(0, 4)}-${b.slice(4)}${hex(low, 8)}`;
}

/**
 * A block of ids the database numbers itself (a set-based insert): every id of the block is `prefix`
 * followed by twelve hex digits of a number below 2^48 (the low 16 bits of the counter's high part and
 * its 32-bit low part). The block owns those values in its millisecond, and ids made afterwards in
 * this process start past them, so ids stay unique and ordered.
 */
export function findingIdBlock(now: number = Date.now()): { prefix: string } {
  lastMs = Math.max(now, lastMs + 1);
  reseed();
  const ms = hex(lastMs, 12);
  const b = hex(0x80000000 + high, 8);
  const prefix = `${ms.slice(0, 8)}-${ms.slice(8, 12)}-${hex(0x7000 | randA, 4)}-${b.slice(0, 4)}-`;
  // reseed() leaves `high` below 2^29: the next id of this millisecond starts at the next 2^16 of it.
  high = (Math.floor(high / 0x10000) + 1) * 0x10000;
  low = 0;
  return { prefix };
}
