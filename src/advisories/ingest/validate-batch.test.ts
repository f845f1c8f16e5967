import { describe, expect, it } from "vitest";
import { validateBatch } from "./validate-batch.js";

const good = (id: string) => ({
  id,
  modified: "2024-05-01T00:00:00Z",
  aliases: ["CVE-2024-0001"],
  affected: [
    {
      package: { ecosystem: "npm", name: "left-pad" },
      ranges: [{ type: "SEMVER", events: [{ introduced: "0" }] }],
    },
  ],
});

describe("validateBatch", () => {
  it("passes good records and rejects each bad one on its own, at a pointer into the request", () => {
    const badRange = good("GHSA-bad1");
    badRange.affected[0]?.ranges.splice(0, 1, { type: "SVN", events: [{ introduced: "0" }] });
    const batch = validateBatch([
      good("GHSA-ok-1"),
      badRange,
      { id: "GHSA-bad2", modified: "yesterday" },
      "not a record",
      good("GHSA-ok-2"),
    ]);
    expect(batch.records.map((r) => r.id)).toEqual(["GHSA-ok-1", "GHSA-ok-2"]);
    expect(batch.indexes).toEqual([0, 4]);
    expect(batch.rejected).toEqual([
      {
        index: 1,
        id: "GHSA-bad1",
        where: "/records/1/affected/0/ranges/0/type",
        message: expect.any(String),
      },
      { index: 2, id: "GHSA-bad2", where: "/records/2/modified", message: expect.stringMatching(/RFC 3339/) },
      { index: 3, where: "/records/3", message: expect.any(String) },
    ]);
  });

  it("takes the records array's pointer", () => {
    const { rejected } = validateBatch([{ id: "X" }], "/body/records");
    expect(rejected[0]?.where).toBe("/body/records/0/modified");
  });

  it("rejects a record modified more than a day after now at its /modified", () => {
    const now = new Date("2026-12-01T00:00:00Z");
    const { records, rejected } = validateBatch(
      [
        { ...good("GHSA-pin"), modified: "9999-12-31T00:00:00Z" },
        { ...good("GHSA-soon"), modified: "2026-12-01T23:00:00Z" },
        { ...good("GHSA-late"), modified: "2026-12-02T00:00:01Z" },
      ],
      "/records",
      now,
    );
    expect(records.map((r) => r.id)).toEqual(["GHSA-soon"]);
    expect(rejected).toEqual([
      { index: 0, id: "GHSA-pin", where: "/records/0/modified", message: expect.stringMatching(/after now/) },
      { index: 2, id: "GHSA-late", where: "/records/2/modified", message: expect.any(String) },
    ]);
  });
});
