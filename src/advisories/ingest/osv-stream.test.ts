import { describe, expect, it } from "vitest";
import { ValidationError } from "../../domain/errors.js";
import type { OsvSourceItem } from "../osv/read.js";
import type { OsvRecord } from "../osv/schema.js";
import { importOsvStream, locateRejection, type StreamOptions } from "./osv-stream.js";

const record = (id: string): OsvRecord => ({ id, modified: "2024-01-01T00:00:00Z" });

async function* items(list: OsvSourceItem[]): AsyncGenerator<OsvSourceItem> {
  for (const item of list) yield item;
}

const counted = (records: OsvRecord[]) => ({
  added: records.length,
  updated: 0,
  unchanged: 0,
  retired: 0,
  gitRanges: 0,
});

describe("locateRejection", () => {
  it.each([
    ["go.jsonl:12", 3, "/records/3/affected/0/ranges/0/type", "go.jsonl:12#/affected/0/ranges/0/type"],
    ["dir/a.json#/4", 0, "/records/0/modified", "dir/a.json#/4/modified"],
    ["osv.zip!GHSA-x.json", 7, "/records/7", "osv.zip!GHSA-x.json"],
    ["a.json", 1, "/elsewhere", "a.json"],
  ])("%s, record %i, %s → %s", (location, index, where, expected) => {
    expect(locateRejection(location, index, where)).toBe(expected);
  });
});

describe("importOsvStream", () => {
  it("sends full batches, sums the results, and locates reader and server rejections", async () => {
    const batches: string[][] = [];
    const send: StreamOptions["send"] = async (records) => {
      batches.push(records.map((r) => r.id));
      const bad = records.findIndex((r) => r.id === "B-3");
      return {
        ...counted(records),
        added: records.length - (bad === -1 ? 0 : 1),
        rejected:
          bad === -1 ? [] : [{ index: bad, id: "B-3", where: `/records/${bad}/affected`, message: "no" }],
      };
    };
    const progress: Array<[number, number]> = [];
    const summary = await importOsvStream(
      items([
        { record: record("A-1"), location: "f.jsonl:1" },
        { record: record("A-2"), location: "f.jsonl:2" },
        { error: new ValidationError("invalid JSON", { where: "f.jsonl:3:7" }), location: "f.jsonl:3" },
        { record: record("B-3"), location: "f.jsonl:4" },
        { record: record("B-4"), location: "f.jsonl:5" },
      ]),
      { batchSize: 2, send, onProgress: (p) => progress.push([p.read, p.done]) },
    );
    expect(batches).toEqual([
      ["A-1", "A-2"],
      ["B-3", "B-4"],
    ]);
    expect(summary).toMatchObject({ records: 5, added: 3, updated: 0 });
    expect(summary.rejected).toEqual([
      { where: "f.jsonl:3:7", message: "invalid JSON" },
      { where: "f.jsonl:4#/affected", id: "B-3", message: "no" },
    ]);
    expect(progress.at(-1)).toEqual([5, 5]);
  });

  it("keeps one batch in flight and stops at the first failed batch", async () => {
    let inFlight = 0;
    let most = 0;
    const send: StreamOptions["send"] = async (records) => {
      inFlight += 1;
      most = Math.max(most, inFlight);
      await new Promise((resolve) => setTimeout(resolve, 5));
      inFlight -= 1;
      if (records[0]?.id === "R-4") throw new Error("server went away");
      return counted(records);
    };
    const list = Array.from({ length: 8 }, (_, i) => ({ record: record(`R-${i}`), location: `f:${i}` }));
    await expect(importOsvStream(items(list), { batchSize: 2, send })).rejects.toThrow("server went away");
    expect(most).toBe(1);
  });

  it("sends nothing for a source with only bad records", async () => {
    let calls = 0;
    const summary = await importOsvStream(
      items([{ error: new ValidationError("bad", { where: "x.json#/id" }), location: "x.json" }]),
      {
        batchSize: 10,
        send: async (records) => {
          calls += 1;
          return counted(records);
        },
      },
    );
    expect(calls).toBe(0);
    expect(summary).toMatchObject({ records: 1, added: 0, rejected: [{ where: "x.json#/id" }] });
  });
});
