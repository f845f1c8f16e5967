import { describe, expect, it } from "vitest";
import { installedVersions } from "./installed.js";

const row = (asset_id: string, ecosystem: string, version: string) => ({ asset_id, ecosystem, version });

describe("installedVersions", () => {
  it("nothing installed: the dpkg default and no version", () => {
    expect(installedVersions([])).toEqual({ ecosystem: "Debian", installed: new Map() });
  });

  it("one version per asset: the lowest of its architectures, in the scheme's order", () => {
    const { ecosystem, installed } = installedVersions([
      row("a", "Debian:12", "3.0.15-1"),
      row("a", "Debian:12", "3.0.9-1"), // i386 lags behind
      row("b", "Debian:12", "3.0.11-1"),
    ]);
    expect(ecosystem).toBe("Debian");
    expect(installed).toEqual(
      new Map([
        ["a", "3.0.9-1"],
        ["b", "3.0.11-1"],
      ]),
    );
  });

  it("a dpkg ecosystem wins over another with the same package name, whose rows do not count", () => {
    const { ecosystem, installed } = installedVersions([
      row("a", "PyPI", "2.31.0"),
      row("b", "PyPI", "2.31.0"),
      row("c", "Ubuntu:22.04", "2.25.1-1"),
    ]);
    expect(ecosystem).toBe("Ubuntu");
    expect(installed).toEqual(new Map([["c", "2.25.1-1"]]));
  });

  it("otherwise the ecosystem on the most assets; an unknown ecosystem is ignored", () => {
    const { ecosystem, installed } = installedVersions([
      row("a", "npm", "1.0.0"),
      row("b", "npm", "1.2.0"),
      row("c", "PyPI", "1.0"),
      row("d", "Nonesuch", "1"),
    ]);
    expect(ecosystem).toBe("npm");
    expect([...installed.keys()]).toEqual(["a", "b"]);
  });

  it("a version the scheme cannot read is kept, so the planner skips the asset and says why", () => {
    const { installed } = installedVersions([row("a", "Debian:12", "3.0.11-1"), row("a", "Debian:12", "??")]);
    expect(installed.get("a")).toBe("??");
  });
});
