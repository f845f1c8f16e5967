// Tests of the pure parts of `autopatch policy …` and `autopatch windows …` (src/cli/commands/); the
// process-level CLI tests live in test/.
import { describe, expect, it } from "vitest";
import { parseFleetSize, validationJson, validationLines } from "../cli/commands/policy.js";
import {
  checkJson,
  checkLine,
  parseCount,
  parseInstant,
  policyArgIsFile,
  windowsJson,
  windowsRows,
} from "../cli/commands/windows.js";
import { checkStart, nextWindows } from "./calendar.js";
import { loadPolicy, validatePolicy } from "./loader.js";

describe("policy validate output", () => {
  const bad = validatePolicy(
    "maintenanceWindows:\n  - {name: sat-night, cron: '0 1 * * SAT', duration: 4x, timezone: UTC}\n",
  );

  it("prints FILE:line:col: message per problem", () => {
    expect(validationLines("p.yaml", bad)).toEqual([
      'p.yaml:2:54: sat-night.duration: "4x" is not a duration (use e.g. 30m, 4h, 2d)',
    ]);
  });

  it("--json gives ok and the errors", () => {
    expect(validationJson(bad)).toEqual({
      ok: false,
      errors: [
        {
          line: 2,
          column: 54,
          path: "/maintenanceWindows/0/duration",
          message: 'sat-night.duration: "4x" is not a duration (use e.g. 30m, 4h, 2d)',
        },
      ],
      warnings: [],
    });
    expect(validationJson(validatePolicy("{}"))).toEqual({ ok: true, errors: [], warnings: [] });
  });

  it("prints warnings as FILE:line:col: warning: message, and --json lists them", () => {
    const warned = validatePolicy("rollout:\n  typicalFleetSize: 2\n");
    expect(validationLines("p.yaml", warned)).toEqual([
      "p.yaml:2:3: warning: rollout.phases[1] (wave 25%) would be empty for a fleet of 2 assets: the phases before it take them all",
    ]);
    expect(validationJson(warned)).toMatchObject({
      ok: true,
      errors: [],
      warnings: [{ path: "/rollout/phases/1/wave" }],
    });
  });

  it.each(["0", "-3", "x", "2.5"])("--fleet-size %s is rejected", (text) => {
    expect(() => parseFleetSize(text)).toThrow(/--fleet-size/);
  });
});

describe("windows --policy", () => {
  it.each([
    ["prod", false, false],
    ["prod@3", false, false],
    ["policy.yaml", false, true],
    ["./prod", false, true],
    ["conf/prod", false, true],
    ["prod", true, true],
  ])("%s (exists: %s) is a file: %s", (arg, exists, file) => {
    expect(policyArgIsFile(arg, () => exists)).toBe(file);
  });
});

describe("option parsing", () => {
  it.each([
    ["2026-11-28T01:00:00+01:00", "2026-11-28T00:00:00.000Z"],
    ["2026-11-28T01:00Z", "2026-11-28T01:00:00.000Z"],
    ["2026-11-28T01:00", "2026-11-28T01:00:00.000Z"],
  ])("--at %s", (text, iso) => {
    expect(parseInstant(text, "--at").toISOString()).toBe(iso);
  });

  it("reads now and rejects what is not a date", () => {
    const now = new Date("2026-01-01T00:00:00Z");
    expect(parseInstant("now", "--at", () => now)).toBe(now);
    expect(() => parseInstant("next tuesday", "--at")).toThrow(/not an ISO 8601 date-time/);
  });

  it.each(["0", "-1", "x", "1.5", "1001"])("--count %s is rejected", (text) => {
    expect(() => parseCount(text)).toThrow(/--count/);
  });
});

describe("windows next and check output", () => {
  const policy = loadPolicy(`
maintenanceWindows:
  - {name: sat-night, cron: "0 1 * * SAT", duration: 4h, timezone: Europe/Berlin}
  - {name: one-off, start: "2026-11-28T22:00", duration: 3h, timezone: UTC}
freezes:
  - {name: year-end, from: "2026-12-20T00:00", to: "2027-01-04T00:00", timezone: Europe/Berlin}
`);

  it("JSON rows are ISO 8601 in each window's zone, in order", () => {
    const found = nextWindows(policy, new Date("2026-11-27T00:00:00Z"), 2);
    expect(windowsJson(found)).toEqual([
      { name: "sat-night", start: "2026-11-28T01:00:00+01:00", end: "2026-11-28T05:00:00+01:00" },
      { name: "one-off", start: "2026-11-28T22:00:00Z", end: "2026-11-29T01:00:00Z" },
    ]);
    expect(windowsRows(found).map((r) => r.duration)).toEqual(["4h", "3h"]);
  });

  it("check says ALLOWED or DENIED and why", () => {
    const denied = checkStart(policy, new Date("2026-12-26T00:30:00Z"));
    expect(checkLine(denied)).toBe('DENIED: frozen by "year-end" until 2027-01-04T00:00:00+01:00');
    expect(checkJson(denied)).toEqual({
      allowed: false,
      reason: 'frozen by "year-end" until 2027-01-04T00:00:00+01:00',
      freeze: "year-end",
    });
    const allowed = checkStart(policy, new Date("2026-11-28T00:30:00Z"));
    expect(checkLine(allowed)).toBe('ALLOWED: inside window "sat-night" until 2026-11-28T05:00:00+01:00');
  });
});
