import { describe, expect, it } from "vitest";
import { closest, didYouMean } from "./suggest.js";

describe("did you mean", () => {
  it.each([
    ["canary", ["canary", "waves", "verify"], "canary"],
    ["cnary", ["canary", "waves", "verify"], "canary"],
    ["WAVE", ["canary", "waves", "verify"], "waves"],
    ["Europe/Berln", ["Europe/Berlin", "Europe/Bern", "Asia/Tokyo"], "Europe/Berlin"],
    ["approvals", ["canary", "waves"], undefined],
    ["x", [], undefined],
  ])("closest(%j) is %j", (input, candidates, expected) => {
    expect(closest(input, candidates)).toBe(expected);
  });

  it("says nothing for an exact match or a far one", () => {
    expect(didYouMean("sla", ["sla"])).toBe("");
    expect(didYouMean("completely-else", ["sla"])).toBe("");
    expect(didYouMean("slas", ["sla", "waves"])).toBe(' (did you mean "sla"?)');
  });
});
