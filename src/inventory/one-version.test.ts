import { describe, expect, it } from "vitest";
import type { PackageRecord } from "../domain/inventory.js";
import { requireOneVersionInSet, requireOneVersionPerPackage } from "./one-version.js";

/** The refusal as data, or null: both checks must give the same for the same records. */
function outcome(check: () => void): unknown {
  try {
    check();
    return null;
  } catch (err) {
    const e = err as { message: string; reason?: string; where?: string; details?: unknown };
    return { message: e.message, reason: e.reason, where: e.where, details: e.details };
  }
}

describe("requireOneVersionPerPackage", () => {
  it("refuses exactly what the set check refuses, at the same record, on mixed reports", () => {
    let seed = 7;
    const random = () => {
      seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31;
      return seed / 2 ** 31;
    };
    const pick = <T>(xs: readonly T[]): T => xs[Math.floor(random() * xs.length)] as T;
    let refused = 0;
    for (let round = 0; round < 400; round++) {
      const records: PackageRecord[] = Array.from({ length: 1 + Math.floor(random() * 12) }, () => ({
        ecosystem: pick(["Debian:12", "Ubuntu:22.04", "npm", "Debian"]),
        name: pick(["a", "b", "c"]),
        version: pick(["1", "2"]),
        arch: pick(["amd64", "arm64", null, undefined, ""]),
      }));
      const where = (i: number) => `/packages/${i}/version`;
      const plain = outcome(() => requireOneVersionPerPackage(records, where));
      expect(plain).toEqual(outcome(() => requireOneVersionInSet(records, where)));
      if (plain !== null) refused += 1;
    }
    expect(refused).toBeGreaterThan(50);
  });
});
