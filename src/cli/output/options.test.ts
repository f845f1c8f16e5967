import { Command } from "commander";
import { describe, expect, it } from "vitest";
import { applyOutputFlags, argvWantsMachineOutput, formatFromFlags, withOutputFlags } from "./options.js";
import { outputSettings } from "./settings.js";

describe("output flags", () => {
  it.each([
    [{}, "table"],
    [{ json: true }, "json"],
    [{ output: "yaml" as const }, "yaml"],
    [{ output: "json" as const, json: true }, "json"],
  ])("%o prints as %s", (flags, format) => {
    expect(formatFromFlags(flags)).toBe(format);
  });

  it("refuses --json with another -o", () => {
    expect(() => formatFromFlags({ json: true, output: "wide" })).toThrow(/--json contradicts -o wide/);
  });

  it("parses -o, sets json for scripts and the settings", async () => {
    let seen: unknown;
    const program = new Command("t").exitOverride().hook("preAction", (_p, a) => applyOutputFlags(a));
    withOutputFlags(program.command("x")).action((flags: { json?: boolean }) => {
      seen = flags.json;
    });
    await program.parseAsync(["x", "-o", "yaml", "--no-pager", "--utc"], { from: "user" });
    expect(seen).toBe(true);
    expect(outputSettings()).toEqual({ format: "yaml", pager: false, utc: true });
    await expect(program.parseAsync(["x", "-o", "xml"], { from: "user" })).rejects.toThrow();
  });

  it.each([
    [["--json"], true],
    [["-o", "yaml"], true],
    [["-ojson"], true],
    [["--output=json"], true],
    [["-o", "wide"], false],
    [["list"], false],
  ])("errors of %o are machine-readable: %s", (argv, machine) => {
    expect(argvWantsMachineOutput(argv)).toBe(machine);
  });
});
