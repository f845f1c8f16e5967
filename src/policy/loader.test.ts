import { describe, expect, it } from "vitest";
import { isAppError } from "../domain/errors.js";
import { DEFAULT_POLICY, defaultPolicyYaml } from "./default-policy.js";
import { loadPolicy, policyContentHash, validatePolicy } from "./loader.js";
import { policyJsonSchema } from "./schema.js";

const INTERFACE_YAML = `maintenanceWindows:
  - name: sat-night
    cron: "0 1 * * SAT"          # five-field cron, evaluated in \`timezone\`
    duration: 4h                 # elapsed time, also across a DST change
    timezone: Europe/Berlin
  - name: patch-tuesday-plus-2
    cron: "0 22 * * TUE#2"       # second Tuesday of the month
    offsetDays: 2
    duration: 6h
    timezone: America/New_York
  - name: one-off
    start: "2026-12-27T22:00"    # local time in \`timezone\`
    duration: 3h
    timezone: UTC
freezes:
  - name: year-end
    from: "2026-12-20T00:00"
    to: "2027-01-04T00:00"
    timezone: Europe/Berlin
  - name: peak-hours
    cron: "0 9 * * MON-FRI"
    duration: 9h
    timezone: Europe/Berlin
rollout:
  phases:
    - canary: 1
    - wave: 25%
    - wave: 75%
  observe: 15m
  maxUnavailable: 25%
  failureBudget: {perWave: 0, total: 0}
  rollback: automatic
approvals:
  required: 1
`;

describe("validatePolicy: valid files", () => {
  it("accepts the documented interface forms", () => {
    const result = validatePolicy(INTERFACE_YAML);
    expect(result.ok).toBe(true);
    if (!result.ok) return;
    expect(result.policy.maintenanceWindows.map((w) => w.name)).toEqual([
      "sat-night",
      "patch-tuesday-plus-2",
      "one-off",
    ]);
    expect(result.policy.maintenanceWindows[0]?.onClose).toBe("finish-in-flight");
    expect(result.policy.freezes[0]?.allowEmergencyOverride).toBe(true);
    // Sections not written get their defaults.
    expect(result.policy.approvals.expiresAfter).toBe("72h");
    expect(result.policy.notifications.leadTime).toBe("30m");
  });

  it.each([
    ["empty file", ""],
    ["empty mapping", "{}"],
    ["only windows and freezes", "maintenanceWindows: []\nfreezes: []\n"],
    [
      "days and at, crossing midnight",
      "maintenanceWindows:\n  - {name: w, days: [fri, SAT], at: '22:00', duration: 6h, timezone: UTC}\n",
    ],
    [
      "every other section",
      `classification:
  overrides: [{selector: "exposure=internet", sla: {high: 3d}}]
approvals:
  rules: [{class: emergency, environment: prod, required: 0, postReviewWithin: 24h}]
rollout:
  phases: [{canary: "role=canary", observe: 30m}, {wave: 5%}, {wave: 10}]
  maxUnavailable: 3
  failureBudget: {perWave: 10%, total: 2}
ordering: [{selector: "group=mgmt"}, {selector: "group=main", soak: 2d}]
notifications:
  webhooks: [{name: ops, url: "https://hooks.example.org/x", format: slack, events: [started, failed]}]
`,
    ],
  ])("accepts %s", (_what, text) => {
    expect(validatePolicy(text)).toMatchObject({ ok: true });
  });
});

describe("validatePolicy: errors with line and column", () => {
  it.each([
    [
      "bad duration",
      "maintenanceWindows:\n  - name: sat-night\n    cron: '0 1 * * SAT'\n    duration: 4x\n    timezone: UTC\n",
      { line: 4, column: 15, path: "/maintenanceWindows/0/duration" },
      'sat-night.duration: "4x" is not a duration (use e.g. 30m, 4h, 2d)',
    ],
    [
      "unknown zone",
      "maintenanceWindows:\n  - name: w\n    cron: '0 1 * * SAT'\n    duration: 4h\n    timezone: Europe/Berln\n",
      { line: 5, column: 15, path: "/maintenanceWindows/0/timezone" },
      'w.timezone: "Europe/Berln" is not a known IANA time zone (did you mean "Europe/Berlin"?)',
    ],
    [
      "invalid cron",
      "maintenanceWindows:\n  - name: w\n    cron: '0 25 * * *'\n    duration: 4h\n    timezone: UTC\n",
      { line: 3, column: 11, path: "/maintenanceWindows/0/cron" },
      'w.cron: invalid cron "0 25 * * *": Invalid value for hour: 25',
    ],
    [
      "six-field cron",
      "freezes:\n  - name: f\n    cron: '0 0 9 * * *'\n    duration: 1h\n    timezone: UTC\n",
      { line: 3, column: 11, path: "/freezes/0/cron" },
      "f.cron: invalid cron",
    ],
    [
      "unknown key",
      "rollout:\n  rollbak: manual\n",
      { line: 2, column: 3, path: "/rollout/rollbak" },
      'rollout: unknown key "rollbak" (did you mean "rollback"?)',
    ],
    [
      "unknown enum value",
      "maintenanceWindows:\n  - {name: w, cron: '0 1 * * *', duration: 1h, timezone: UTC, onClose: pause-nw}\n",
      { line: 2, path: "/maintenanceWindows/0/onClose" },
      'w.onClose: "pause-nw" is not one of finish-in-flight, pause-now (did you mean "pause-now"?)',
    ],
    [
      "missing field",
      "maintenanceWindows:\n  - name: w\n    cron: '0 1 * * *'\n    timezone: UTC\n",
      { line: 2, path: "/maintenanceWindows/0/duration" },
      "w.duration: is required",
    ],
    [
      "two window forms",
      "maintenanceWindows:\n  - {name: w, cron: '0 1 * * *', start: '2026-01-01T00:00', duration: 1h, timezone: UTC}\n",
      { line: 2, path: "/maintenanceWindows/0" },
      "w: use only one of",
    ],
    [
      "freeze ending before it starts",
      "freezes:\n  - name: f\n    from: '2026-12-20T00:00'\n    to: '2026-12-19T00:00'\n    timezone: UTC\n",
      { line: 4, column: 9, path: "/freezes/0/to" },
      "f.to: `to` must be after `from`",
    ],
    [
      "negative approvals",
      "approvals:\n  required: -1\n",
      { line: 2, column: 13, path: "/approvals/required" },
      "approvals.required: must be 0 or more",
    ],
    [
      "bad amount",
      "rollout:\n  maxUnavailable: 25x\n",
      { line: 2, column: 19, path: "/rollout/maxUnavailable" },
      'rollout.maxUnavailable: "25x" is not an amount',
    ],
    [
      "duplicate window names",
      "maintenanceWindows:\n  - {name: w, cron: '0 1 * * *', duration: 1h, timezone: UTC}\n  - {name: w, cron: '0 2 * * *', duration: 1h, timezone: UTC}\n",
      { line: 3, path: "/maintenanceWindows/1/name" },
      'w.name: duplicate name "w"',
    ],
    [
      "canary after the first phase",
      "rollout:\n  phases:\n    - wave: 25%\n    - canary: 5%\n",
      { line: 4, column: 15, path: "/rollout/phases/1/canary" },
      "rollout.phases[1].canary: only the first phase can be a canary",
    ],
    ["YAML syntax", "a: [1, 2\nb: c\n", { line: 2, path: "/" }, "YAML syntax:"],
    ["not a mapping", "- 1\n- 2\n", { line: 1, column: 1 }, "a policy is a mapping"],
  ])("%s", (_what, text, where, message) => {
    const result = validatePolicy(text);
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.errors).toHaveLength(1);
    expect(result.errors[0]).toMatchObject(where);
    expect(result.errors[0]?.message).toContain(message);
  });

  it("reports every problem, in file order", () => {
    const text =
      "rollout:\n  observe: soon\nmaintenanceWindows:\n  - {name: w, cron: '0 1 * * *', duration: 4x, timezone: Mars/Base}\n";
    const result = validatePolicy(text);
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.errors.map((e) => [e.line, e.path])).toEqual([
      [2, "/rollout/observe"],
      [4, "/maintenanceWindows/0/duration"],
      [4, "/maintenanceWindows/0/timezone"],
    ]);
  });
});

describe("loadPolicy", () => {
  it("throws a ValidationError pointing at file:line:col with every issue in details", () => {
    const text = "rollout:\n  observe: soon\n  rollbak: manual\n";
    try {
      loadPolicy(text, "prod.yaml");
      expect.unreachable();
    } catch (err) {
      expect(isAppError(err) && err.code).toBe("validation");
      if (!isAppError(err)) return;
      expect(err.where).toBe("prod.yaml:2:12");
      expect(err.exitCode).toBe(2);
      expect(err.details?.issues).toHaveLength(2);
    }
  });
});

describe("policyContentHash", () => {
  it("is the same for equivalent text and changes with the content", () => {
    const a = policyContentHash("approvals:\n  required: 1\n");
    expect(a).toMatch(/^[0-9a-f]{64}$/);
    expect(policyContentHash("# comment\napprovals: {required: 1}\n")).toBe(a);
    // The default is 1, so leaving it out is the same policy.
    expect(policyContentHash("")).toBe(a);
    expect(policyContentHash("approvals:\n  required: 2\n")).not.toBe(a);
  });
});

describe("default policy", () => {
  it("encodes the SOP", () => {
    expect(DEFAULT_POLICY.approvals).toMatchObject({
      changeRequestRequired: true,
      required: 1,
      separationOfDuties: true,
      rules: [{ class: "emergency", required: 0, postReviewWithin: "24h", justificationRequired: true }],
    });
    expect(DEFAULT_POLICY.rollout).toMatchObject({
      preChecks: { snapshotRequired: true, monitoringReachable: true },
      phases: [{ canary: 1 }, { wave: "25%" }, { wave: "75%" }],
      observe: "15m",
      finalVerification: true,
      rollback: "automatic",
      notifyBefore: "30m",
    });
    expect(DEFAULT_POLICY.notifications.leadTime).toBe("30m");
  });

  it("is what the schema defaults give, apart from its name", () => {
    const { name: _n, description: _d, ...fromDefaults } = loadPolicy("");
    const { name, description: _d2, ...builtIn } = DEFAULT_POLICY;
    expect(name).toBe("sop-default");
    expect(builtIn).toEqual(fromDefaults);
  });

  it("round-trips as YAML text", () => {
    expect(loadPolicy(defaultPolicyYaml())).toEqual(DEFAULT_POLICY);
  });
});

describe("policyJsonSchema", () => {
  it("describes every section with defaults, so none is required", () => {
    const schema = policyJsonSchema();
    expect(schema.type).toBe("object");
    expect(Object.keys(schema.properties as object)).toEqual(
      expect.arrayContaining([
        "maintenanceWindows",
        "freezes",
        "approvals",
        "rollout",
        "ordering",
        "notifications",
      ]),
    );
    expect(schema.required ?? []).toEqual([]);
    expect(schema.additionalProperties).toBe(false);
  });
});
