import { expect, it } from "vitest";
import { membership, mergeSorted } from "./delta.js";

it("answers membership in ascending ids, and in ids stored out of order", () => {
  for (const ids of [[], [3], [1, 4, 9, 16, 25], [25, 1, 16, 4, 9, 4]]) {
    const has = membership(ids);
    for (let id = 0; id <= 26; id++) expect(has(id)).toBe(ids.includes(id));
    expect(has.sorted).toEqual([...new Set(ids)].sort((a, b) => a - b));
  }
});

it("merges added ids into the ascending ids less the removed ones", () => {
  expect(mergeSorted([2, 4, 6, 8], new Set([4, 8]), [1, 5, 9])).toEqual([1, 2, 5, 6, 9]);
  expect(mergeSorted([], new Set(), [3, 7])).toEqual([3, 7]);
  expect(mergeSorted([2, 4], new Set([2, 4]), [])).toEqual([]);
});
