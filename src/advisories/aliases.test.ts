import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { aliasGroups, groupAliases } from "./aliases.js";

const DATA = fileURLToPath(new URL("../../test/fixtures/data/", import.meta.url));

describe("groupAliases", () => {
  it("joins ids transitively and shows the CVE id", () => {
    const groups = groupAliases([
      { id: "GO-2020-0001", aliases: ["CVE-2020-36567", "GHSA-6vm3-jj99-7229"] },
      { id: "GHSA-6vm3-jj99-7229", aliases: ["CVE-2020-36567"] },
      { id: "PYSEC-2021-1", aliases: ["GHSA-aaaa-bbbb-cccc"] },
      { id: "RUSTSEC-2021-0001", aliases: ["GHSA-aaaa-bbbb-cccc"] },
      { id: "ALONE-1" },
    ]);
    expect(groups.get("GO-2020-0001")).toBe("CVE-2020-36567");
    expect(groups.get("GHSA-6vm3-jj99-7229")).toBe("CVE-2020-36567");
    expect(groups.get("CVE-2020-36567")).toBe("CVE-2020-36567");
    // No CVE in the group: the smallest id.
    expect(groups.get("PYSEC-2021-1")).toBe("GHSA-aaaa-bbbb-cccc");
    expect(groups.get("RUSTSEC-2021-0001")).toBe("GHSA-aaaa-bbbb-cccc");
    expect(groups.get("ALONE-1")).toBe("ALONE-1");
    expect(aliasGroups(groups).get("CVE-2020-36567")).toEqual([
      "CVE-2020-36567",
      "GHSA-6vm3-jj99-7229",
      "GO-2020-0001",
    ]);
  });

  it("does not depend on the order of the records", () => {
    const records = [
      { id: "B-1", aliases: ["C-1"] },
      { id: "A-1", aliases: ["C-1"] },
      { id: "D-1", aliases: ["CVE-2000-0002", "A-1"] },
      { id: "E-1", aliases: ["CVE-2000-0001", "B-1"] },
    ];
    const forward = groupAliases(records);
    const backward = groupAliases([...records].reverse());
    for (const id of ["A-1", "B-1", "C-1", "D-1", "E-1", "CVE-2000-0001", "CVE-2000-0002"]) {
      expect(forward.get(id)).toBe("CVE-2000-0001");
      expect(backward.get(id)).toBe("CVE-2000-0001");
    }
  });

  it("groups the real GO and RUSTSEC records: every shared GHSA alias joins them", () => {
    const records = ["go-vulndb.jsonl", "rustsec-crates.jsonl"].flatMap((f) =>
      readFileSync(`${DATA}osv/${f}`, "utf8")
        .split("\n")
        .filter(Boolean)
        .map((l) => JSON.parse(l) as { id: string; aliases?: string[] }),
    );
    const groups = groupAliases(records);
    for (const r of records) {
      const root = groups.get(r.id);
      for (const a of r.aliases ?? []) expect(groups.get(a)).toBe(root);
      if ((r.aliases ?? []).some((a) => a.startsWith("CVE-"))) expect(root).toMatch(/^CVE-/);
    }
  });
});
