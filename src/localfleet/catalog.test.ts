import { describe, expect, it } from "vitest";
import { catalogSpecs, catalogVersions, hostPackageSet } from "./catalog.js";
import { debFileName, validateBuildSpec } from "./deb-builder.js";

describe("catalog", () => {
  const specs = catalogSpecs();

  it("has about twenty binary packages, every spec valid and its .deb name unique", () => {
    const names = new Set(specs.map((s) => s.name));
    expect(names.size).toBeGreaterThanOrEqual(20);
    for (const spec of specs) expect(() => validateBuildSpec(spec)).not.toThrow();
    const files = specs.map((s) => debFileName(s));
    expect(new Set(files).size).toBe(files.length);
  });

  it("offers an older and a newer version of every package but zlib1g", () => {
    for (const name of new Set(specs.map((s) => s.name))) {
      const versions = catalogVersions(name);
      if (name === "zlib1g") expect(versions).toHaveLength(1);
      else expect(versions.length).toBeGreaterThanOrEqual(2);
    }
    expect(catalogVersions("no-such-package")).toEqual([]);
  });

  it.each([
    ["bash", { name: "bash", version: "5.2.15-2" }],
    ["libcap2", { name: "libcap2", version: "1:2.66-4+deb12u2" }],
    ["libssl3", { name: "openssl" }],
    ["openssl", undefined],
  ])("%s has source %j", (name, source) => {
    expect(catalogVersions(name)[0]?.source).toEqual(source);
  });

  it("gives hosts different package sets, binaries of one source at one version", () => {
    const sets = [0, 1, 2, 3, 4, 5].map((i) => hostPackageSet(i));
    const keys = sets.map((set) => set.map((s) => `${s.name}=${s.version}`).join(","));
    expect(new Set(keys).size).toBe(sets.length);
    for (const set of sets) {
      const versionOf = new Map(set.map((s) => [s.name, s.version]));
      expect(versionOf.get("openssl")).toBe(versionOf.get("libssl3"));
      expect(versionOf.get("openssh-client")).toBe(versionOf.get("openssh-server"));
      expect(versionOf.get("libc6")).toBe(versionOf.get("libc-bin"));
    }
    expect(sets[0]?.some((s) => s.name === "nginx")).toBe(true);
    expect(sets[1]?.some((s) => s.name === "nginx")).toBe(false);
    expect(sets[1]?.some((s) => s.name === "git")).toBe(true);
  });

  it.each([-1, 1.5, Number.NaN])("rejects host index %s", (i) => {
    expect(() => hostPackageSet(i)).toThrow(/non-negative integer/);
  });
});
