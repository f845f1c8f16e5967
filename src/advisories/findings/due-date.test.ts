import { describe, expect, it } from "vitest";
import { DEFAULT_POLICY } from "../../policy/default-policy.js";
import { loadPolicy } from "../../policy/loader.js";
import { AssetContexts } from "./asset-context.js";
import { DueDates, dueDate } from "./due-date.js";

const DAY = 86_400_000;
// Friday 2026-11-20; the window opens Saturdays 01:00–05:00 UTC.
const FRIDAY = new Date("2026-11-20T10:00:00.000Z");
const withWindow = loadPolicy(
  'maintenanceWindows:\n  - {name: sat-night, cron: "0 1 * * SAT", duration: 4h, timezone: UTC}\n' +
    'classification:\n  overrides: [{selector: "exposure=internet", sla: {high: 3d}}]\n',
);

describe("dueDate", () => {
  it.each([
    [
      "emergency",
      0,
      "2026-11-20T14:00:00.000Z",
      "emergency: immediately (SLA 0), with a grace of 4h after first seen",
    ],
    ["high", 7 * DAY, "2026-11-27T10:00:00.000Z", "high: within 7d of first seen"],
  ] as const)("%s with SLA %d", (cls, sla, at, rule) => {
    expect(dueDate(DEFAULT_POLICY, cls, sla, FRIDAY)).toEqual({ at: new Date(at), rule });
  });

  it.each([
    [
      "30m",
      "2026-11-20T10:30:00.000Z",
      "emergency: immediately (SLA 0), with a grace of 30m after first seen",
    ],
    ["0", FRIDAY.toISOString(), "emergency: immediately (SLA 0)"],
  ])("an immediate SLA with immediateGrace %s", (grace, at, rule) => {
    const policy = loadPolicy(`classification:\n  immediateGrace: ${grace === "0" ? 0 : grace}\n`);
    expect(dueDate(policy, "emergency", 0, FRIDAY)).toEqual({ at: new Date(at), rule });
  });

  it("routine without maintenance windows: 30 days, and says so", () => {
    const due = dueDate(DEFAULT_POLICY, "routine", "next-window", FRIDAY);
    expect(due.at.toISOString()).toBe("2026-12-20T10:00:00.000Z");
    expect(due.rule).toContain("the policy has no maintenance windows");
  });

  it.each([
    ["before the window", FRIDAY, "2026-11-21T05:00:00.000Z"],
    ["inside a window: the next one", new Date("2026-11-21T02:00:00.000Z"), "2026-11-28T05:00:00.000Z"],
  ])("routine, first seen %s: by the end of the next window", (_label, seen, at) => {
    const due = dueDate(withWindow, "routine", "next-window", seen);
    expect(due.at.toISOString()).toBe(at);
    expect(due.rule).toContain('"sat-night"');
  });

  it("DueDates gives the same answers", () => {
    const dates = new DueDates(withWindow);
    expect(dates.at("routine", "next-window", FRIDAY.toISOString())).toBe("2026-11-21T05:00:00.000Z");
    expect(dates.at("high", 7 * DAY, FRIDAY.toISOString())).toBe("2026-11-27T10:00:00.000Z");
  });
});

describe("AssetContexts", () => {
  const row = (labels: Record<string, string>, criticality = 3) => ({
    id: "a1",
    name: "web-1",
    kind: "host",
    environment: "prod",
    group_name: "web",
    region: "eu",
    owner: "",
    criticality,
    labels: JSON.stringify(labels),
    agent_status: "active",
    created_at: "",
    updated_at: "",
    last_seen_at: null,
  });
  it.each([
    [{ exposure: "internet" }, 3 * DAY, true],
    [{}, 7 * DAY, false],
  ])("labels %j: high SLA and exposure from the policy's overrides", (labels, high, exposed) => {
    const ctx = new AssetContexts(withWindow).of(row(labels, 4));
    expect(ctx.sla).toEqual({ emergency: 0, high, routine: "next-window" });
    expect(ctx.risk).toEqual({ criticality: 4, internetExposed: exposed, sensitiveData: false });
  });
});
