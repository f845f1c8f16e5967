import { describe, expect, it } from "vitest";
import { debScheme } from "../../ecosystems/deb/deb-scheme.js";
import { pypiScheme } from "../../ecosystems/pypi/pypi-scheme.js";
import type { OsvAffected } from "../osv/schema.js";
import { VersionOrder, versionsNamedBy } from "./version-order.js";

describe("VersionOrder", () => {
  const order = new VersionOrder(debScheme, ["1.0-1", "1:0.1-1", "1.0-1~bpo1", "2.0-1", "1.0-1"]);

  it("ranks versions as dpkg orders them", () => {
    expect(order.size).toBe(4);
    expect(["1.0-1~bpo1", "1.0-1", "2.0-1", "1:0.1-1"].map((v) => order.rank(v))).toEqual([0, 1, 2, 3]);
  });

  it("puts an unknown version between its neighbours", () => {
    expect(order.rank("1.5-1")).toBe(1.5);
    expect(order.rank("0.1")).toBe(-0.5);
    expect(order.rank("2:1.0")).toBe(3.5);
  });

  it("answers comparisons from the table and falls back to the scheme", () => {
    const scheme = order.schemeFor("1.5-1");
    expect(scheme.compare("1.5-1", "2.0-1")).toBe(-1);
    expect(scheme.compare("1:0.1-1", "1.5-1")).toBe(1);
    expect(scheme.compare("3.0", "1.0-1")).toBe(1);
    expect(scheme.compare("1.0-1", "1.0-1")).toBe(0);
  });

  it("gives versions the scheme orders equal one rank", () => {
    const pypi = new VersionOrder(pypiScheme, ["1.0", "1.0.0", "1.0.post1"]);
    expect(pypi.rank("1.0")).toBe(pypi.rank("1.0.0"));
    expect(pypi.rank("1.0.0.0")).toBe(pypi.rank("1.0"));
    const entry: OsvAffected = { package: { ecosystem: "PyPI", name: "x" }, versions: ["1.0", "not valid!"] };
    expect(pypi.listed(entry, pypi.rank("1.0.0"))).toBe(true);
    expect(pypi.listed(entry, pypi.rank("1.0.post1"))).toBe(false);
  });
});

describe("versionsNamedBy", () => {
  it("collects valid event and list versions, not 0, * or GIT hashes", () => {
    const entry: OsvAffected = {
      package: { ecosystem: "Debian:12", name: "x" },
      ranges: [
        { type: "ECOSYSTEM", events: [{ introduced: "0" }, { fixed: "1.2-1" }, { limit: "*" }] },
        {
          type: "GIT",
          repo: "https://example.org/x.git",
          events: [{ introduced: "0" }, { fixed: "abc123" }],
        },
      ],
      versions: ["1.0-1", "not a version"],
    };
    expect([...versionsNamedBy([entry], debScheme)].sort()).toEqual(["1.0-1", "1.2-1"]);
  });
});
