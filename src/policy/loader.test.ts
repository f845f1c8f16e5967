import { describe, expect, it } from "vitest";
import { aliasBomb } from "../../test/helpers/hostile-inputs.js";
import { isAppError } from "../domain/errors.js";
import { DEFAULT_POLICY, defaultPolicyYaml } from "./default-policy.js";
import { loadPolicy, policyContentHash, validatePolicy } from "./loader.js";
import { rolloutPlan } from "./rules.js";
import { DEFAULT_IMMEDIATE_GRACE, policyJsonSchema } from "./schema.js";
import { parseWebhookAllowList } from "./webhook-destination.js";

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
    expect(policyContentHash("{}")).toBe(a);
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

  it("is what the schema defaults give, apart from its name and the grace it spells out", () => {
    const { name: _n, description: _d, ...fromDefaults } = loadPolicy("{}");
    const { name, description: _d2, ...builtIn } = DEFAULT_POLICY;
    expect(name).toBe("default");
    expect(builtIn).toEqual({
      ...fromDefaults,
      classification: { ...fromDefaults.classification, immediateGrace: DEFAULT_IMMEDIATE_GRACE },
    });
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

  it("covers rollout.revertTimeout, a bound of its own for each revert", () => {
    const rollout = (policyJsonSchema().properties as Record<string, { properties: Record<string, unknown> }>)
      .rollout;
    expect(rollout?.properties.revertTimeout).toMatchObject({
      description: expect.stringContaining("default 30m"),
    });
    expect(rolloutPlan(loadPolicy("rollout:\n  progressDeadline: 5m\n")).revertTimeoutMs).toBe(1_800_000);
    expect(rolloutPlan(loadPolicy("rollout:\n  revertTimeout: 2h\n")).revertTimeoutMs).toBe(7_200_000);
    expect(() => loadPolicy("rollout:\n  revertTimeout: soon\n", "p.yaml")).toThrow(
      expect.objectContaining({ where: "p.yaml:2:18" }),
    );
  });
});

describe("validatePolicy: what apply and planning would refuse is refused here", () => {
  it.each([
    [
      "an unknown role in fromRoles",
      "approvals:\n  fromRoles: [approver, cab]\n",
      { line: 2, column: 25, path: "/approvals/fromRoles/1" },
      'approvals.fromRoles[1]: "cab" is not a role (use viewer, operator, approver, admin)',
    ],
    [
      "a broken selector in ordering",
      "ordering:\n  - selector: group=mgmt\n  - selector: 'group in (main'\n",
      { line: 3, column: 15, path: "/ordering/1/selector" },
      'ordering[1].selector: "group in (main" is not a selector: expected ")" to close the value list at offset 14',
    ],
    [
      "a broken canary selector",
      "rollout:\n  phases: [{canary: 'role=='}, {wave: 50%}]\n",
      { line: 2, path: "/rollout/phases/0/canary" },
      "is not a selector",
    ],
    [
      "a broken override selector",
      "classification:\n  overrides: [{selector: 'a=b,,c', sla: {high: 1d}}]\n",
      { line: 2, path: "/classification/overrides/0/selector" },
      "is not a selector",
    ],
    [
      "a policy name with a slash",
      "name: team/web\n",
      { line: 1, column: 7, path: "/name" },
      'policy name "team/web" is not 1–63 of A-Z a-z 0-9 . _ - starting alphanumeric',
    ],
    [
      "an empty file",
      "",
      { line: 1, column: 1, path: "/", reason: "input.empty" },
      "the policy file is empty",
    ],
    [
      "a file of only comments",
      "# nothing yet\n",
      { line: 1, column: 1, reason: "input.empty" },
      "the policy file is empty",
    ],
    [
      "a lone surrogate",
      'name: x\ndescription: "caf\\ud800"\n',
      { line: 2, column: 14, path: "/description", reason: "input.lone-surrogate" },
      "lone UTF-16 surrogate",
    ],
    [
      "a file: webhook",
      "notifications:\n  webhooks: [{name: f, url: 'file:///etc/passwd'}]\n",
      { line: 2, path: "/notifications/webhooks/0/url" },
      "is not an http or https URL",
    ],
  ])("%s", (_what, text, where, message) => {
    const result = validatePolicy(text);
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.errors).toHaveLength(1);
    expect(result.errors[0]).toMatchObject(where);
    expect(result.errors[0]?.message).toContain(message);
    // loadPolicy, which apply and planning use, refuses the same text with the same location.
    try {
      loadPolicy(text, "p.yaml");
      expect.unreachable();
    } catch (err) {
      expect(isAppError(err) && err.where).toBe(
        `p.yaml:${result.errors[0]?.line}:${result.errors[0]?.column}`,
      );
    }
  });

  it("refuses a YAML alias bomb at its first alias, quickly and without expanding it", () => {
    const started = Date.now();
    const result = validatePolicy(aliasBomb());
    expect(Date.now() - started).toBeLessThan(2_000);
    expect(result).toMatchObject({
      ok: false,
      errors: [{ line: 4, column: 10, reason: "input.yaml-aliases" }],
    });
    expect(() => loadPolicy(aliasBomb(), "bomb.yaml")).toThrow(
      expect.objectContaining({ reason: "input.yaml-aliases", where: "bomb.yaml:4:10" }),
    );
  });

  it("still takes a few aliases", () => {
    const text =
      "maintenanceWindows:\n  - &w {name: a, cron: '0 1 * * SAT', duration: 4h, timezone: UTC}\nfreezes: []\n";
    expect(validatePolicy(text)).toMatchObject({ ok: true });
  });

  it.each([
    ["loopback", "http://127.0.0.1:9/hook", "127.0.0.1, a loopback address"],
    [
      "link-local metadata",
      "http://169.254.169.254/latest/meta-data",
      "169.254.169.254, a linkLocal address",
    ],
    ["private", "https://10.1.2.3/x", "10.1.2.3, a private address"],
    ["IPv6 loopback", "http://[::1]:8080/x", "::1, a loopback address"],
    ["IPv4-mapped IPv6", "http://[::ffff:127.0.0.1]/x", "127.0.0.1, a loopback address"],
    ["IPv6 unique local", "http://[fd12::1]/x", "fd12::1, a uniqueLocal address"],
    ["localhost", "http://localhost:8080/x", "points at localhost"],
    ["a decimal IPv4", "http://2130706433/x", "127.0.0.1, a loopback address"],
  ])("refuses a %s webhook unless the allow-list names it", (_what, url, message) => {
    const text = `notifications:\n  webhooks:\n    - name: h\n      url: "${url}"\n`;
    expect(validatePolicy(text)).toMatchObject({
      ok: false,
      errors: [
        { line: 4, column: 12, path: "/notifications/webhooks/0/url", reason: "input.webhook-destination" },
      ],
    });
    const result = validatePolicy(text);
    if (!result.ok) expect(result.errors[0]?.message).toContain(message);
    const host = new URL(url).hostname.replace(/^\[|\]$/g, "");
    const allowed = parseWebhookAllowList([host === "2130706433" ? "127.0.0.0/8" : host]);
    expect(validatePolicy(text, undefined, { webhooks: allowed })).toMatchObject({ ok: true });
    // Stored versions skip the check: it was made when they were applied, and delivery makes it again.
    expect(validatePolicy(text, undefined, { webhooks: null })).toMatchObject({ ok: true });
  });
});
