import { describe, expect, it } from "vitest";
import { AppError } from "../domain/errors.js";
import { canonicalEcosystem, compareVersions, SCHEMES, schemeForEcosystem } from "./registry.js";

describe("registry", () => {
  it.each([
    ["Debian", "Debian", "deb"],
    ["Debian:12", "Debian", "deb"],
    ["debian:12", "Debian", "deb"],
    ["Ubuntu", "Ubuntu", "deb"],
    ["Ubuntu:22.04:LTS", "Ubuntu", "deb"],
    ["Red Hat", "Red Hat", "rpm"],
    ["Red Hat:enterprise_linux:9::appstream", "Red Hat", "rpm"],
    ["AlmaLinux", "AlmaLinux", "rpm"],
    ["AlmaLinux:9", "AlmaLinux", "rpm"],
    ["Rocky Linux", "Rocky Linux", "rpm"],
    ["SUSE", "SUSE", "rpm"],
    ["openSUSE", "openSUSE", "rpm"],
    ["npm", "npm", "semver"],
    ["crates.io", "crates.io", "semver"],
    ["PyPI", "PyPI", "pypi"],
    ["Maven", "Maven", "maven"],
    ["Go", "Go", "go"],
    ["deb", "Debian", "deb"],
    ["rpm", "Red Hat", "rpm"],
    ["pypi", "PyPI", "pypi"],
    ["maven", "Maven", "maven"],
    ["go", "Go", "go"],
    ["cargo", "crates.io", "semver"],
    ["semver", "npm", "semver"],
    ["NPM", "npm", "semver"],
  ])("%s → %s (%s)", (name, canonical, scheme) => {
    expect(canonicalEcosystem(name)).toBe(canonical);
    expect(schemeForEcosystem(name).id).toBe(scheme);
    expect(SCHEMES.get(scheme)).toBe(schemeForEcosystem(name));
  });

  it.each(["RubyGems", "", "Debianx", "alpine:v3.18"])(
    "rejects %j as unsupported, listing the known names",
    (name) => {
      expect(() => schemeForEcosystem(name)).toThrow(AppError);
      try {
        canonicalEcosystem(name);
      } catch (err) {
        expect(err instanceof AppError && err.code).toBe("unsupported");
        expect(String(err)).toMatch(/known: Debian, Ubuntu, .*crates\.io.*, cargo/);
      }
    },
  );

  it("compareVersions uses the ecosystem's scheme", () => {
    expect(compareVersions("Debian:12", "1.0~rc1", "1.0")).toBe(-1);
    expect(compareVersions("PyPI", "1.0", "1.0.0")).toBe(0);
    expect(compareVersions("AlmaLinux:9", "2:1.0-1.el9", "1:9.0-1.el9")).toBe(1);
  });
});
