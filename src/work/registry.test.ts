import { describe, expect, it } from "vitest";
import { WorkRegistry } from "./registry.js";
import type { WorkKind } from "./work-kind.js";

const kind = (name: string, batch = 1, leaseMs = 1000): WorkKind<string> => ({
  name,
  batch,
  leaseMs,
  parse: (payload) => String(payload),
  run: async () => undefined,
});

describe("WorkRegistry", () => {
  it("finds kinds by name, in registration order", () => {
    const registry = new WorkRegistry([kind("a"), kind("b")]);
    expect(registry.kinds.map((k) => k.name)).toEqual(["a", "b"]);
    expect(registry.get("b")?.name).toBe("b");
    expect(registry.get("c")).toBeUndefined();
  });

  it.each([
    ["a name registered twice", [kind("a"), kind("a")]],
    ["an empty batch", [kind("a", 0)]],
    ["a fractional batch", [kind("a", 1.5)]],
    ["no lease", [kind("a", 1, 0)]],
  ])("refuses %s", (_, kinds) => {
    expect(() => new WorkRegistry(kinds)).toThrow(/work kind "a"/);
  });
});
