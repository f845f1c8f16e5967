/**
 * Finding ids: UUID version 7 (RFC 9562), time-ordered. A full re-match inserts hundreds of thousands of
 * findings at once; random (version 4) keys would land all over the primary-key index and make every
 * insert a page miss, time-ordered keys append at its end. The `uuidv7` library generates them (a
 * 42-bit counter seeded randomly each millisecond, RFC 9562 §6.2 method 1).
 */
import { V7Generator } from "uuidv7";
import { DERIVED_ID_PREFIX } from "../../store/migrations/0020-findings-layout.js";

const generator = new V7Generator();
// The largest allowance the library accepts: a clock that goes back never makes an id sort before an
// earlier one of this process (the library then keeps counting in its last millisecond instead).
generator.setRollbackAllowance(2 ** 48 - 1);

/** A new UUIDv7. Within one process ids strictly increase, even when the clock goes back. */
export function newFindingId(now: number = Date.now()): string {
  return generator.generateOrResetWithTs(now).toString();
}

/**
 * The id of a finding the fleet re-match numbered (migration 0020): a fixed prefix and twelve hex
 * digits of its row number. UUID-shaped (version 7, RFC 9562 variant) like every other finding id, and
 * sorting after all of them, in the order the findings were made.
 */
export function derivedFindingId(num: number): string {
  return `${DERIVED_ID_PREFIX}${num.toString(16).padStart(12, "0")}`;
}

const DERIVED = new RegExp(`^${DERIVED_ID_PREFIX}([0-9a-f]{12})$`);

/** The row number a derived id stands for; null for any other id. */
export function derivedRowNum(id: string): number | null {
  const m = DERIVED.exec(id);
  return m?.[1] === undefined ? null : Number.parseInt(m[1], 16);
}
