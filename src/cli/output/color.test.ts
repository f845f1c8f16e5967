import { describe, expect, it } from "vitest";
import { colorEnabled } from "./color.js";

describe("colorEnabled", () => {
  it.each([
    [{}, true, true],
    [{}, false, false],
    [{ NO_COLOR: "1" }, true, false],
    [{ NO_COLOR: "" }, true, true],
    [{ FORCE_COLOR: "1" }, false, true],
    [{ FORCE_COLOR: "1", NO_COLOR: "1" }, false, false],
    [{ FORCE_COLOR: "0" }, false, false],
    [{ TERM: "dumb" }, true, false],
  ])("%o on a terminal %s: %s", (env, tty, enabled) => {
    expect(colorEnabled(env, tty)).toBe(enabled);
  });
});
