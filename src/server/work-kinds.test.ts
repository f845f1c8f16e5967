import { describe, expect, it } from "vitest";
import { serverWorkRegistry } from "./work-kinds.js";

/** The payloads each registered kind must read back: what its owe helper stores. */
const STORED: Record<string, { good: unknown[]; bad: unknown[] }> = {
  "findings.rematch-packages": {
    good: [{ ecosystem: "Debian", name: "openssl" }],
    bad: [{ ecosystem: "Debian" }, { ecosystem: "", name: "x" }, null],
  },
  "findings.refresh-risk": {
    good: [{ cve: "CVE-2023-5678" }, { cve: null }],
    bad: [{}, { cve: "" }, "CVE-2023-5678"],
  },
};

describe.each(serverWorkRegistry().kinds)("work kind $name", (kind) => {
  it("has a stable name, a batch and a lease", () => {
    expect(kind.name).toMatch(/^[a-z]+\.[a-z-]+$/);
    expect(kind.batch).toBeGreaterThanOrEqual(1);
    expect(kind.leaseMs).toBeGreaterThan(0);
  });

  it("reads back the payloads it stores and refuses others", () => {
    const cases = STORED[kind.name];
    expect(cases, `no payload cases for ${kind.name}`).toBeDefined();
    for (const payload of cases?.good ?? []) expect(kind.parse(payload)).toEqual(payload);
    for (const payload of cases?.bad ?? []) expect(() => kind.parse(payload)).toThrow();
  });
});
