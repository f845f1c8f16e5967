import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { checkStart, freezesBetween, nextWindows, windowAt } from "./calendar.js";
import { loadPolicy } from "./loader.js";
import { formatInZone } from "./local-time.js";
import type { Policy, PolicyInput } from "./schema.js";
import { PolicySchema } from "./schema.js";

const HOUR = 3_600_000;

/** Windows as `name start end` lines in each window's zone, easy to read in a failing test. */
function show(policy: Policy, from: string, count: number): string[] {
  const tz = (name: string) => policy.maintenanceWindows.find((w) => w.name === name)?.timezone ?? "UTC";
  return nextWindows(policy, new Date(from), count).map(
    (w) => `${w.name} ${formatInZone(w.start, tz(w.name))} ${formatInZone(w.end, tz(w.name))}`,
  );
}

const policyOf = (input: PolicyInput): Policy => PolicySchema.parse(input);

describe("DST: a window lasts its duration in elapsed time", () => {
  it.each([
    [
      "Europe/Berlin spring forward",
      "Europe/Berlin",
      "2026-03-28T12:00:00Z",
      "2026-03-29T00:00:00+01:00",
      "2026-03-29T05:00:00+02:00",
    ],
    [
      "Europe/Berlin fall back",
      "Europe/Berlin",
      "2026-10-24T12:00:00Z",
      "2026-10-25T00:00:00+02:00",
      "2026-10-25T03:00:00+01:00",
    ],
    [
      "America/New_York spring forward",
      "America/New_York",
      "2026-03-07T12:00:00Z",
      "2026-03-08T00:00:00-05:00",
      "2026-03-08T05:00:00-04:00",
    ],
    [
      "America/New_York fall back",
      "America/New_York",
      "2026-10-31T12:00:00Z",
      "2026-11-01T00:00:00-04:00",
      "2026-11-01T03:00:00-05:00",
    ],
  ])("%s: a 4h window from midnight", (_what, zone, from, start, end) => {
    const policy = policyOf({
      maintenanceWindows: [{ name: "w", cron: "0 0 * * *", duration: "4h", timezone: zone }],
    });
    const [w] = nextWindows(policy, new Date(from), 1);
    expect(w && formatInZone(w.start, zone)).toBe(start);
    expect(w && formatInZone(w.end, zone)).toBe(end);
    expect(w && w.end.getTime() - w.start.getTime()).toBe(4 * HOUR);
  });
});

describe("DST: a daily 02:30 window", () => {
  // 02:30 does not exist on the spring-forward day: the window opens at 03:00, the first instant after
  // the gap (croner's rule), and still lasts its full hour.
  it.each([
    ["cron", { cron: "30 2 * * *" }],
    ["days/at", { days: ["mon", "tue", "wed", "thu", "fri", "sat", "sun"], at: "02:30" }],
  ])("Europe/Berlin spring forward (%s form)", (_form, rule) => {
    const policy = policyOf({
      maintenanceWindows: [{ name: "d", ...rule, duration: "1h", timezone: "Europe/Berlin" }],
    });
    expect(show(policy, "2026-03-28T00:00:00Z", 3)).toEqual([
      "d 2026-03-28T02:30:00+01:00 2026-03-28T03:30:00+01:00",
      "d 2026-03-29T03:00:00+02:00 2026-03-29T04:00:00+02:00",
      "d 2026-03-30T02:30:00+02:00 2026-03-30T03:30:00+02:00",
    ]);
  });

  it("America/New_York spring forward", () => {
    const policy = policyOf({
      maintenanceWindows: [{ name: "d", cron: "30 2 * * *", duration: "1h", timezone: "America/New_York" }],
    });
    expect(show(policy, "2026-03-08T00:00:00Z", 2)).toEqual([
      "d 2026-03-08T03:00:00-04:00 2026-03-08T04:00:00-04:00",
      "d 2026-03-09T02:30:00-04:00 2026-03-09T03:30:00-04:00",
    ]);
  });

  // 02:30 happens twice on the fall-back day: the window opens once, at the earlier instant.
  it.each([
    [
      "Europe/Berlin",
      "30 2 * * *",
      "2026-10-24T12:00:00Z",
      "2026-10-25T02:30:00+02:00",
      "2026-10-26T02:30:00+01:00",
    ],
    [
      "America/New_York",
      "30 1 * * *",
      "2026-10-31T12:00:00Z",
      "2026-11-01T01:30:00-04:00",
      "2026-11-02T01:30:00-05:00",
    ],
  ])("%s fall back opens once, at the earlier instant", (zone, cron, from, first, second) => {
    const policy = policyOf({ maintenanceWindows: [{ name: "d", cron, duration: "1h", timezone: zone }] });
    const found = nextWindows(policy, new Date(from), 2).map((w) => formatInZone(w.start, zone));
    expect(found).toEqual([first, second]);
  });

  it("a one-off start in the gap opens at the first instant after it", () => {
    const policy = policyOf({
      maintenanceWindows: [
        { name: "o", start: "2026-03-29T02:30", duration: "1h", timezone: "Europe/Berlin" },
      ],
    });
    expect(show(policy, "2026-03-01T00:00:00Z", 5)).toEqual([
      "o 2026-03-29T03:00:00+02:00 2026-03-29T04:00:00+02:00",
    ]);
  });
});

describe("windows crossing midnight", () => {
  const policy = policyOf({
    maintenanceWindows: [
      { name: "fri-night", days: ["fri"], at: "22:00", duration: "6h", timezone: "Europe/Berlin" },
    ],
  });

  it("runs into the next day", () => {
    expect(show(policy, "2026-11-01T00:00:00Z", 2)).toEqual([
      "fri-night 2026-11-06T22:00:00+01:00 2026-11-07T04:00:00+01:00",
      "fri-night 2026-11-13T22:00:00+01:00 2026-11-14T04:00:00+01:00",
    ]);
  });

  it("a window open at `from` is included with its real start", () => {
    expect(show(policy, "2026-11-07T01:00:00Z", 1)).toEqual([
      "fri-night 2026-11-06T22:00:00+01:00 2026-11-07T04:00:00+01:00",
    ]);
    expect(checkStart(policy, new Date("2026-11-07T01:00:00Z"))).toEqual({
      allowed: true,
      reason: 'inside window "fri-night" until 2026-11-07T04:00:00+01:00',
      window: "fri-night",
      until: new Date("2026-11-07T03:00:00Z"),
    });
  });
});

describe("nth weekday with offsetDays", () => {
  it("second Tuesday + 2 days, several months, across the DST change", () => {
    const policy = policyOf({
      maintenanceWindows: [
        { name: "pt2", cron: "0 22 * * TUE#2", offsetDays: 2, duration: "6h", timezone: "America/New_York" },
      ],
    });
    expect(
      nextWindows(policy, new Date("2026-01-01T00:00:00Z"), 6).map((w) => formatInZone(w.start, w.timezone)),
    ).toEqual([
      "2026-01-15T22:00:00-05:00",
      "2026-02-12T22:00:00-05:00",
      "2026-03-12T22:00:00-04:00",
      "2026-04-16T22:00:00-04:00",
      "2026-05-14T22:00:00-04:00",
      "2026-06-11T22:00:00-04:00",
    ]);
  });

  it("offsetDays keeps the local wall time when a DST change lies in between", () => {
    const policy = policyOf({
      maintenanceWindows: [
        { name: "w", cron: "0 22 * * TUE#1", offsetDays: 6, duration: "2h", timezone: "America/New_York" },
      ],
    });
    // First Tuesday of March 2026 is the 3rd (EST); six days later is after the change to EDT.
    expect(show(policy, "2026-03-01T00:00:00Z", 1)).toEqual([
      "w 2026-03-09T22:00:00-04:00 2026-03-10T00:00:00-04:00",
    ]);
  });
});

describe("one-off windows", () => {
  const policy = policyOf({
    maintenanceWindows: [{ name: "one-off", start: "2026-12-27T22:00", duration: "3h", timezone: "UTC" }],
  });

  it.each([
    ["before it", "2026-12-01T00:00:00Z", ["one-off 2026-12-27T22:00:00Z 2026-12-28T01:00:00Z"]],
    ["while open", "2026-12-28T00:00:00Z", ["one-off 2026-12-27T22:00:00Z 2026-12-28T01:00:00Z"]],
    ["after it", "2026-12-28T01:00:00Z", []],
  ])("%s", (_what, from, expected) => {
    expect(show(policy, from, 3)).toEqual(expected);
  });
});

describe("freezes trim windows", () => {
  const base = {
    maintenanceWindows: [
      { name: "sat-night", cron: "0 1 * * SAT", duration: "4h", timezone: "Europe/Berlin" },
    ],
  };
  const freeze = (from: string, to: string) => ({ name: "f", from, to, timezone: "Europe/Berlin" });

  it.each([
    [
      "covered entirely: left out",
      freeze("2026-12-04T00:00", "2026-12-06T00:00"),
      ["sat-night 2026-12-12T01:00:00+01:00 2026-12-12T05:00:00+01:00"],
    ],
    [
      "covered at the end: trimmed",
      freeze("2026-12-05T03:00", "2026-12-06T00:00"),
      ["sat-night 2026-12-05T01:00:00+01:00 2026-12-05T03:00:00+01:00"],
    ],
    [
      "covered at the start: trimmed",
      freeze("2026-12-04T00:00", "2026-12-05T02:30"),
      ["sat-night 2026-12-05T02:30:00+01:00 2026-12-05T05:00:00+01:00"],
    ],
    [
      "covered in the middle: split in two",
      freeze("2026-12-05T02:00", "2026-12-05T03:00"),
      [
        "sat-night 2026-12-05T01:00:00+01:00 2026-12-05T02:00:00+01:00",
        "sat-night 2026-12-05T03:00:00+01:00 2026-12-05T05:00:00+01:00",
      ],
    ],
  ])("%s", (_what, f, expected) => {
    const policy = policyOf({ ...base, freezes: [f] });
    expect(show(policy, "2026-12-01T00:00:00Z", expected.length)).toEqual(expected);
  });

  it("the year-end freeze removes every window inside it", () => {
    const policy = policyOf({ ...base, freezes: [freeze("2026-12-20T00:00", "2027-01-04T00:00")] });
    expect(show(policy, "2026-12-15T00:00:00Z", 2)).toEqual([
      "sat-night 2026-12-19T01:00:00+01:00 2026-12-19T05:00:00+01:00",
      "sat-night 2027-01-09T01:00:00+01:00 2027-01-09T05:00:00+01:00",
    ]);
  });

  it("recurring peak-hours freeze cuts weekdays but not weekends", () => {
    const policy = policyOf({
      maintenanceWindows: [{ name: "day", cron: "0 8 * * *", duration: "12h", timezone: "Europe/Berlin" }],
      freezes: [{ name: "peak-hours", cron: "0 9 * * MON-FRI", duration: "9h", timezone: "Europe/Berlin" }],
    });
    // Friday 2026-11-06, Saturday 7th, Sunday 8th, Monday 9th.
    expect(show(policy, "2026-11-06T00:00:00Z", 6)).toEqual([
      "day 2026-11-06T08:00:00+01:00 2026-11-06T09:00:00+01:00",
      "day 2026-11-06T18:00:00+01:00 2026-11-06T20:00:00+01:00",
      "day 2026-11-07T08:00:00+01:00 2026-11-07T20:00:00+01:00",
      "day 2026-11-08T08:00:00+01:00 2026-11-08T20:00:00+01:00",
      "day 2026-11-09T08:00:00+01:00 2026-11-09T09:00:00+01:00",
      "day 2026-11-09T18:00:00+01:00 2026-11-09T20:00:00+01:00",
    ]);
    expect(checkStart(policy, new Date("2026-11-09T12:00:00Z"))).toMatchObject({
      allowed: false,
      reason: 'frozen by "peak-hours" until 2026-11-09T18:00:00+01:00',
      freeze: "peak-hours",
    });
    expect(checkStart(policy, new Date("2026-11-07T12:00:00Z"))).toMatchObject({
      allowed: true,
      window: "day",
    });
  });

  it("a freeze that covers every window ends the search instead of looping", () => {
    const policy = policyOf({
      maintenanceWindows: [{ name: "w", cron: "0 1 * * *", duration: "1h", timezone: "UTC" }],
      freezes: [{ name: "always", cron: "0 0 * * *", duration: "1d", timezone: "UTC" }],
    });
    expect(nextWindows(policy, new Date("2026-01-01T00:00:00Z"), 1)).toEqual([]);
  });
});

describe("checkStart", () => {
  const policy = loadPolicy(`
maintenanceWindows:
  - {name: sat-night, cron: "0 1 * * SAT", duration: 4h, timezone: Europe/Berlin}
freezes:
  - {name: year-end, from: "2026-12-20T00:00", to: "2027-01-04T00:00", timezone: Europe/Berlin}
  - {name: audit, from: "2027-02-01T00:00", to: "2027-02-08T00:00", timezone: UTC, allowEmergencyOverride: false}
`);
  const inFreeze = new Date("2026-12-26T00:30:00Z"); // Saturday 01:30 in Berlin, inside sat-night and year-end

  it.each([
    [
      "inside a window",
      "2026-11-28T01:00:00Z",
      {},
      true,
      'inside window "sat-night" until 2026-11-28T05:00:00+01:00',
    ],
    [
      "outside every window",
      "2026-11-25T12:00:00Z",
      {},
      false,
      'outside every maintenance window; next is "sat-night" at 2026-11-28T01:00:00+01:00',
    ],
    ["frozen", inFreeze.toISOString(), {}, false, 'frozen by "year-end" until 2027-01-04T00:00:00+01:00'],
    [
      "emergency without justification or approver",
      inFreeze.toISOString(),
      { emergency: true },
      false,
      'frozen by "year-end" until 2027-01-04T00:00:00+01:00; an emergency override needs a justification and an approver',
    ],
    [
      "emergency without approver",
      inFreeze.toISOString(),
      { emergency: true, justification: "CVE-2026-0001 exploited" },
      false,
      "needs a approver",
    ],
    [
      "emergency with justification and approver",
      inFreeze.toISOString(),
      { emergency: true, justification: "CVE-2026-0001 exploited", approver: "alice" },
      true,
      'emergency override of freeze "year-end", approved by "alice": CVE-2026-0001 exploited',
    ],
    [
      "justification without the emergency flag",
      inFreeze.toISOString(),
      { justification: "x", approver: "alice" },
      false,
      'frozen by "year-end"',
    ],
    [
      "emergency in a freeze that allows no override",
      "2027-02-03T12:00:00Z",
      { emergency: true, justification: "x", approver: "alice" },
      false,
      'frozen by "audit" until 2027-02-08T00:00:00Z, which allows no emergency override',
    ],
    [
      "emergency outside a window, with justification and approver",
      "2026-11-25T12:00:00Z",
      { emergency: true, justification: "x", approver: "alice" },
      true,
      "emergency change outside the maintenance windows",
    ],
  ])("%s", (_what, at, opts, allowed, reason) => {
    const decision = checkStart(policy, new Date(at), opts);
    expect(decision.allowed).toBe(allowed);
    expect(decision.reason).toContain(reason);
  });

  it("a policy without windows allows any time outside freezes", () => {
    const open = loadPolicy(
      "freezes:\n  - {name: f, from: '2026-12-20T00:00', to: '2026-12-21T00:00', timezone: UTC}\n",
    );
    expect(checkStart(open, new Date("2026-06-01T12:00:00Z")).allowed).toBe(true);
    expect(checkStart(open, new Date("2026-12-20T12:00:00Z")).allowed).toBe(false);
    expect(nextWindows(open, new Date("2026-06-01T12:00:00Z"), 3)).toEqual([]);
  });

  it("names the window until its freeze-trimmed end", () => {
    const p = loadPolicy(`
maintenanceWindows: [{name: w, cron: "0 1 * * *", duration: 4h, timezone: UTC}]
freezes: [{name: f, from: "2026-05-01T03:00", to: "2026-05-01T04:00", timezone: UTC}]
`);
    expect(checkStart(p, new Date("2026-05-01T02:00:00Z")).reason).toBe(
      'inside window "w" until 2026-05-01T03:00:00Z',
    );
    expect(windowAt(p, new Date("2026-05-01T04:30:00Z"))?.start).toEqual(new Date("2026-05-01T04:00:00Z"));
  });
});

// ---- properties --------------------------------------------------------------------------------------

const ZONES = ["UTC", "Europe/Berlin", "America/New_York", "Australia/Sydney", "Asia/Kolkata"];
const DAYS = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"];

const windowArb = fc.record({
  minute: fc.constantFrom(0, 15, 30, 45),
  hour: fc.integer({ min: 0, max: 23 }),
  days: fc.uniqueArray(fc.constantFrom(...DAYS), { minLength: 1, maxLength: 7 }),
  hours: fc.integer({ min: 1, max: 30 }),
  zone: fc.constantFrom(...ZONES),
  offsetDays: fc.integer({ min: -3, max: 3 }),
});

const freezeArb = fc.oneof(
  fc.record({
    kind: fc.constant("range" as const),
    startDay: fc.integer({ min: 0, max: 60 }),
    startHour: fc.integer({ min: 0, max: 23 }),
    // At least 2h, so a range never starts and ends inside the same one-hour DST gap.
    hours: fc.integer({ min: 2, max: 24 * 10 }),
    zone: fc.constantFrom(...ZONES),
  }),
  fc.record({
    kind: fc.constant("recurring" as const),
    hour: fc.integer({ min: 0, max: 23 }),
    days: fc.uniqueArray(fc.constantFrom(...DAYS), { minLength: 1, maxLength: 5 }),
    hours: fc.integer({ min: 1, max: 12 }),
    zone: fc.constantFrom(...ZONES),
  }),
);

type ValueOf<A> = A extends fc.Arbitrary<infer T> ? T : never;

const pad = (n: number) => String(n).padStart(2, "0");

function randomPolicy(
  windows: ValueOf<typeof windowArb>[],
  freezes: ValueOf<typeof freezeArb>[],
  base: Date,
): Policy {
  return policyOf({
    maintenanceWindows: windows.map((w, i) => ({
      name: `w${i}`,
      cron: `${w.minute} ${w.hour} * * ${w.days.join(",")}`,
      offsetDays: w.offsetDays,
      duration: `${w.hours}h`,
      timezone: w.zone,
    })),
    freezes: freezes.map((f, i) => {
      if (f.kind === "recurring") {
        return {
          name: `f${i}`,
          cron: `0 ${f.hour} * * ${f.days.join(",")}`,
          duration: `${f.hours}h`,
          timezone: f.zone,
        };
      }
      // Wall times are built on UTC fields, then read in the freeze's zone.
      const day = new Date(base.getTime() + f.startDay * 86_400_000);
      const start = new Date(
        Date.UTC(day.getUTCFullYear(), day.getUTCMonth(), day.getUTCDate(), f.startHour),
      );
      const end = new Date(start.getTime() + f.hours * HOUR);
      const local = (d: Date) =>
        `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())}T${pad(d.getUTCHours())}:00`;
      return { name: `f${i}`, from: local(start), to: local(end), timezone: f.zone };
    }),
  });
}

describe("nextWindows properties", () => {
  it("returns ordered openings that avoid every freeze and lie inside a raw window", () => {
    fc.assert(
      fc.property(
        fc.array(windowArb, { minLength: 1, maxLength: 3 }),
        fc.array(freezeArb, { maxLength: 3 }),
        fc.date({
          min: new Date("2025-01-01T00:00:00Z"),
          max: new Date("2028-12-31T00:00:00Z"),
          noInvalidDate: true,
        }),
        fc.integer({ min: 1, max: 8 }),
        (windows, freezes, from, count) => {
          const policy = randomPolicy(windows, freezes, from);
          const found = nextWindows(policy, from, count);
          expect(found.length).toBeLessThanOrEqual(count);
          const raw = nextWindows({ ...policy, freezes: [] }, from, 400);
          for (const [i, w] of found.entries()) {
            expect(w.end.getTime()).toBeGreaterThan(w.start.getTime());
            expect(w.end.getTime()).toBeGreaterThan(from.getTime());
            const prev = found[i - 1];
            if (prev) expect(prev.start.getTime()).toBeLessThanOrEqual(w.start.getTime());
            const overlapping = freezesBetween(policy, w.start, w.end);
            expect(overlapping).toEqual([]);
            const inside = raw.some(
              (r) =>
                r.name === w.name &&
                r.start.getTime() <= w.start.getTime() &&
                w.end.getTime() <= r.end.getTime(),
            );
            expect(inside).toBe(true);
          }
        },
      ),
      { numRuns: 60 },
    );
  });

  it("checkStart agrees with nextWindows: allowed exactly inside a returned opening", () => {
    fc.assert(
      fc.property(
        fc.array(windowArb, { minLength: 1, maxLength: 2 }),
        fc.array(freezeArb, { maxLength: 2 }),
        fc.date({
          min: new Date("2025-01-01T00:00:00Z"),
          max: new Date("2028-12-31T00:00:00Z"),
          noInvalidDate: true,
        }),
        (windows, freezes, at) => {
          const policy = randomPolicy(windows, freezes, at);
          const decision = checkStart(policy, at);
          const open = nextWindows(policy, at, 20).some(
            (w) => w.start.getTime() <= at.getTime() && at.getTime() < w.end.getTime(),
          );
          expect(decision.allowed).toBe(open);
        },
      ),
      { numRuns: 60 },
    );
  });
});
