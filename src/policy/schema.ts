/**
 * The policy file: one zod schema gives validation, the TypeScript types and the published JSON Schema.
 * Every section has defaults (they encode the patching SOP), so `{}` is a valid policy. Durations,
 * amounts and selectors stay strings here, as written; `parseDuration`, `parseAmount` and the helpers in
 * `rules.ts` read them, and selectors are parsed by the inventory code.
 */
import { Cron } from "croner";
import { z } from "zod";
import { isAppError } from "../domain/errors.js";
import { ROLES, type Role } from "../domain/roles.js";
import { parseSelector } from "../domain/selector.js";
import { DURATION_HINT, isDuration, parseAmount } from "./duration.js";
import { isValidZone, knownZones, localToInstant, parseLocalDateTime } from "./local-time.js";
import { didYouMean } from "./suggest.js";

const show = (input: unknown): string => (input === undefined ? "nothing" : JSON.stringify(input));

// ---- scalar forms ------------------------------------------------------------------------------------

/** `30s`, `15m`, `2h`, `7d`, `1d12h`, or `0`. */
const durationError = (iss: { input?: unknown }): string =>
  `${show(iss.input)} is not a duration (${DURATION_HINT})`;

const DurationSchema = z
  .union([z.literal(0), z.string().refine(isDuration, { error: durationError })], { error: durationError })
  .meta({ description: "Elapsed time: 30s, 15m, 2h, 7d, 1d12h (units d, h, m, s, ms in that order) or 0." });

const AMOUNT_HINT = "use a count such as 10 or a percentage such as 25%";

/** A count (`10`) or a percentage (`25%`) of the assets in scope. */
const AmountSchema = z
  .union([z.number(), z.string()], { error: (iss) => `${show(iss.input)} is not an amount (${AMOUNT_HINT})` })
  .refine((v) => parseAmount(v) !== undefined, {
    error: (iss) => `${show(iss.input)} is not an amount (${AMOUNT_HINT})`,
  })
  .meta({ description: "A count of assets (10) or a percentage of them (25%)." });

// An unreadable amount was already reported above, so only a readable zero is reported here.
const positiveAmount = AmountSchema.refine((v) => (parseAmount(v)?.value ?? 1) > 0, {
  error: (iss) => `${show(iss.input)} must be more than 0`,
});

/** Why a selector does not parse (its first line, with the offset), or undefined when it does. */
function selectorProblem(text: string): string | undefined {
  try {
    parseSelector(text);
    return undefined;
  } catch (err) {
    if (!isAppError(err)) throw err;
    return `${show(text)} is not a selector: ${err.message.split("\n")[0] ?? err.message} at ${err.where ?? "offset 0"}`;
  }
}

/** A label selector such as `exposure=internet`, kept as written; it must parse as planning reads it. */
const SelectorSchema = z
  .string()
  .trim()
  .min(1, { error: "a selector must not be empty" })
  .superRefine((text, ctx) => {
    const problem = selectorProblem(text);
    if (problem !== undefined) ctx.addIssue({ code: "custom", message: problem });
  });

const cronReason = (pattern: string): string | undefined => {
  try {
    // Constructing without a callback only parses the pattern; nothing is scheduled.
    new Cron(pattern, { mode: "5-part" });
    return undefined;
  } catch (err) {
    return err instanceof Error ? err.message.replace(/^CronPattern:\s*/, "") : String(err);
  }
};

/** A five-field cron expression in croner syntax (`0 1 * * SAT`, `0 22 * * TUE#2`). */
const CronSchema = z
  .string()
  .superRefine((pattern, ctx) => {
    const reason = cronReason(pattern);
    if (reason !== undefined)
      ctx.addIssue({ code: "custom", message: `invalid cron ${show(pattern)}: ${reason}` });
  })
  .meta({ description: "Five-field cron (minute hour day-of-month month day-of-week), croner syntax." });

/** An IANA time-zone name. */
const TimeZoneSchema = z
  .string()
  .refine(isValidZone, {
    error: (iss) =>
      `${show(iss.input)} is not a known IANA time zone${typeof iss.input === "string" ? didYouMean(iss.input, knownZones()) : ""}`,
  })
  .meta({ description: "IANA time zone, e.g. Europe/Berlin, America/New_York, UTC." });

/** A local date-time without offset (`2026-12-27T22:00`), read in the item's time zone. */
const LocalDateTimeSchema = z
  .string()
  .refine((s) => parseLocalDateTime(s) !== undefined, {
    error: (iss) => `${show(iss.input)} is not a local date-time (use e.g. 2026-12-27T22:00)`,
  })
  .meta({ description: "Local date-time without offset, read in `timezone`: 2026-12-27T22:00." });

const DAY_NAMES = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"] as const;

const DaySchema = z.string().refine((d) => (DAY_NAMES as readonly string[]).includes(d.toLowerCase()), {
  error: (iss) =>
    `${show(iss.input)} is not a day (use ${DAY_NAMES.join(", ")})${typeof iss.input === "string" ? didYouMean(iss.input, DAY_NAMES) : ""}`,
});

const TimeOfDaySchema = z.string().regex(/^([01]\d|2[0-3]):[0-5]\d$/, {
  error: (iss) => `${show(iss.input)} is not a time of day (use HH:MM, e.g. 01:00)`,
});

const NameSchema = z.string().trim().min(1, { error: "a name must not be empty" });

/** A policy's own name: it names the stored versions and appears in `NAME@VERSION` references. */
export const POLICY_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/;

const PolicyNameSchema = z.string().regex(POLICY_NAME, {
  error: (iss) => `policy name ${show(iss.input)} is not 1–63 of A-Z a-z 0-9 . _ - starting alphanumeric`,
});

const FromRolesSchema = z
  .array(
    z.string().refine((r) => (ROLES as readonly string[]).includes(r), {
      error: (iss) =>
        `${show(iss.input)} is not a role (use ${ROLES.join(", ")})${typeof iss.input === "string" ? didYouMean(iss.input, ROLES) : ""}`,
    }),
  )
  .min(1)
  .transform((roles) => roles as Role[]);

// ---- classification ----------------------------------------------------------------------------------

export const CHANGE_CLASSES = ["emergency", "high", "routine"] as const;
export type ChangeClass = (typeof CHANGE_CLASSES)[number];

/** How soon a class must be patched: a duration (`0` = immediately) or `next-window`. */
const SlaSchema = z
  .union([z.literal("next-window"), DurationSchema], {
    error: (iss) =>
      `${show(iss.input)} is not an SLA (use a duration such as 7d, 0 for immediately, or next-window)`,
  })
  .meta({ description: "Deadline: a duration (0 = immediately) or next-window." });

const SlaTableSchema = z.strictObject({
  emergency: SlaSchema.default(0),
  high: SlaSchema.default("7d"),
  routine: SlaSchema.default("next-window"),
});

const ScoreSchema = z.number().min(0).max(10);

/** The grace an SLA of 0 gets when the policy does not say (see `immediateGrace`). */
/** A revert given no result this long after its dispatch counts as hung. */
export const DEFAULT_REVERT_TIMEOUT = "30m";

export const DEFAULT_IMMEDIATE_GRACE = "4h";

const ClassificationSchema = z.strictObject({
  sla: SlaTableSchema.prefault({}),
  // Optional without a default: a default would change the content hash of every stored policy.
  immediateGrace: DurationSchema.optional().meta({
    description: `An SLA of 0 (immediately) falls due this long after a finding is first seen, so a new finding is not overdue the instant it is found (default ${DEFAULT_IMMEDIATE_GRACE}).`,
  }),
  overrides: z
    .array(
      z.strictObject({
        selector: SelectorSchema,
        sla: z.strictObject({
          emergency: SlaSchema.optional(),
          high: SlaSchema.optional(),
          routine: SlaSchema.optional(),
        }),
      }),
    )
    .default([])
    .meta({ description: "SLA overrides for assets matching a selector; the first match wins." }),
  risk: z
    .strictObject({
      emergency: z
        .strictObject({
          knownExploited: z.boolean().default(true),
          minScore: ScoreSchema.default(9),
        })
        .prefault({}),
      high: z.strictObject({ minScore: ScoreSchema.default(7) }).prefault({}),
    })
    .prefault({})
    .meta({
      description:
        "Emergency if known-exploited or score ≥ emergency.minScore; high if score ≥ high.minScore.",
    }),
});

// ---- maintenance windows and freezes -----------------------------------------------------------------

const ON_CLOSE = ["finish-in-flight", "pause-now"] as const;

const MaintenanceWindowSchema = z
  .strictObject({
    name: NameSchema,
    description: z.string().optional(),
    cron: CronSchema.optional(),
    offsetDays: z
      .number()
      .int({ error: "offsetDays must be a whole number of days" })
      .min(-31)
      .max(31)
      .optional()
      .meta({ description: "Calendar days added to each cron fire time, keeping its local wall time." }),
    days: z.array(DaySchema).min(1, { error: "days must name at least one day" }).optional(),
    at: TimeOfDaySchema.optional(),
    start: LocalDateTimeSchema.optional().meta({ description: "One-off window start (local time)." }),
    duration: DurationSchema,
    timezone: TimeZoneSchema,
    onClose: z
      .enum(ON_CLOSE)
      .default("finish-in-flight")
      .meta({ description: "What a rollout does when the window closes." }),
  })
  .superRefine((w, ctx) => {
    // Exactly one of the three forms; runs on partly invalid input too, so only presence is looked at.
    const forms = [w.cron !== undefined, w.days !== undefined || w.at !== undefined, w.start !== undefined];
    const used = forms.filter(Boolean).length;
    if (used === 0) {
      ctx.addIssue({
        code: "custom",
        path: [],
        message: "a window needs `cron`, `days` with `at`, or a one-off `start`",
      });
    } else if (used > 1) {
      ctx.addIssue({ code: "custom", path: [], message: "use only one of `cron`, `days`/`at` and `start`" });
    }
    if (w.days !== undefined && w.at === undefined) {
      ctx.addIssue({
        code: "custom",
        path: ["at"],
        message: "`days` needs `at` (the local start time, e.g. 01:00)",
      });
    }
    if (w.at !== undefined && w.days === undefined) {
      ctx.addIssue({ code: "custom", path: ["days"], message: "`at` needs `days` (e.g. [sat, sun])" });
    }
    if (w.offsetDays !== undefined && w.cron === undefined) {
      ctx.addIssue({
        code: "custom",
        path: ["offsetDays"],
        message: "offsetDays only applies to a `cron` window",
      });
    }
    if (w.duration === 0 || w.duration === "0") {
      ctx.addIssue({ code: "custom", path: ["duration"], message: "a window must last longer than 0" });
    }
  });

const FreezeSchema = z
  .strictObject({
    name: NameSchema,
    description: z.string().optional(),
    from: LocalDateTimeSchema.optional().meta({ description: "Start of a date-range freeze (local time)." }),
    to: LocalDateTimeSchema.optional().meta({
      description: "End of a date-range freeze (local time, exclusive).",
    }),
    cron: CronSchema.optional().meta({ description: "Start of a recurring freeze." }),
    duration: DurationSchema.optional(),
    timezone: TimeZoneSchema,
    allowEmergencyOverride: z.boolean().default(true).meta({
      description: "An emergency change may start during this freeze with a justification and an approver.",
    }),
  })
  .superRefine((f, ctx) => {
    const range = f.from !== undefined || f.to !== undefined;
    const recurring = f.cron !== undefined || f.duration !== undefined;
    if (range && recurring) {
      ctx.addIssue({
        code: "custom",
        path: [],
        message: "use either `from`/`to` or `cron`/`duration`, not both",
      });
      return;
    }
    if (!range && !recurring) {
      ctx.addIssue({
        code: "custom",
        path: [],
        message: "a freeze needs `from` and `to`, or `cron` and `duration`",
      });
      return;
    }
    if (range) {
      if (f.from === undefined)
        ctx.addIssue({ code: "custom", path: ["from"], message: "`to` needs `from`" });
      if (f.to === undefined) ctx.addIssue({ code: "custom", path: ["to"], message: "`from` needs `to`" });
      const from = f.from === undefined ? undefined : parseLocalDateTime(f.from);
      const to = f.to === undefined ? undefined : parseLocalDateTime(f.to);
      if (from && to && typeof f.timezone === "string" && isValidZone(f.timezone)) {
        if (localToInstant(to, f.timezone) <= localToInstant(from, f.timezone)) {
          ctx.addIssue({
            code: "custom",
            path: ["to"],
            message: `\`to\` must be after \`from\` (${f.from})`,
          });
        }
      }
    } else {
      if (f.cron === undefined)
        ctx.addIssue({ code: "custom", path: ["cron"], message: "`duration` needs `cron`" });
      if (f.duration === undefined)
        ctx.addIssue({ code: "custom", path: ["duration"], message: "`cron` needs `duration`" });
    }
  });

// ---- approvals ---------------------------------------------------------------------------------------

const ApprovalCountSchema = z
  .number()
  .int({ error: "must be a whole number" })
  .min(0, { error: "must be 0 or more" });

const ApprovalRuleSchema = z
  .strictObject({
    class: z.enum(CHANGE_CLASSES).optional(),
    environment: z.string().trim().min(1).optional(),
    required: ApprovalCountSchema.optional(),
    postReviewWithin: DurationSchema.optional().meta({
      description: "A review after the change is due within this time (the emergency fast path).",
    }),
    justificationRequired: z.boolean().optional(),
    fromRoles: FromRolesSchema.optional(),
  })
  .superRefine((r, ctx) => {
    if (r.class === undefined && r.environment === undefined) {
      ctx.addIssue({ code: "custom", path: [], message: "a rule needs `class`, `environment` or both" });
    }
  });

const ApprovalsSchema = z.strictObject({
  changeRequestRequired: z.boolean().default(true),
  required: ApprovalCountSchema.default(1).meta({ description: "Approvers other than the requester." }),
  fromRoles: FromRolesSchema.default(["approver", "admin"]),
  separationOfDuties: z
    .boolean()
    .default(true)
    .meta({ description: "The requester never counts as an approver of their own change." }),
  expiresAfter: DurationSchema.default("72h"),
  rules: z
    .array(ApprovalRuleSchema)
    .default([{ class: "emergency", required: 0, postReviewWithin: "24h", justificationRequired: true }])
    .meta({ description: "Per class and environment overrides; the most specific match wins." }),
});

// ---- rollout -----------------------------------------------------------------------------------------

const PhaseSchema = z
  .strictObject({
    canary: z
      .union([z.number(), z.string()], {
        error: (iss) => `${show(iss.input)} is not a canary (use a count, a percentage or a label selector)`,
      })
      .optional()
      .meta({
        description: "Canary phase: a count (1), a percentage (5%) or a label selector (role=canary).",
      }),
    wave: positiveAmount.optional().meta({ description: "Wave: a count (10) or a percentage (25%)." }),
    observe: DurationSchema.optional().meta({
      description: "Observation after this phase (default rollout.observe).",
    }),
  })
  .superRefine((p, ctx) => {
    if ((p.canary === undefined) === (p.wave === undefined)) {
      ctx.addIssue({ code: "custom", path: [], message: "a phase is either `canary: …` or `wave: …`" });
    }
    const c = p.canary;
    // Strings that start with a digit are meant as amounts; anything else is a label selector.
    const meantAsAmount = typeof c === "number" || (typeof c === "string" && /^\s*\d/.test(c));
    if (c !== undefined && meantAsAmount && (parseAmount(c)?.value ?? 0) <= 0) {
      ctx.addIssue({
        code: "custom",
        path: ["canary"],
        message: `${show(c)} is not a canary size (use a count above 0, a percentage such as 5%, or a selector)`,
      });
    }
    if (typeof c === "string" && c.trim() === "") {
      ctx.addIssue({ code: "custom", path: ["canary"], message: "a canary selector must not be empty" });
    } else if (typeof c === "string" && !meantAsAmount) {
      const problem = selectorProblem(c);
      if (problem !== undefined) ctx.addIssue({ code: "custom", path: ["canary"], message: problem });
    }
  });

const RolloutSchema = z
  .strictObject({
    preChecks: z
      .strictObject({
        monitoringReachable: z.boolean().default(true),
        snapshotRequired: z.boolean().default(true),
      })
      .prefault({}),
    phases: z
      .array(PhaseSchema)
      .min(1, { error: "a rollout needs at least one phase" })
      .default([{ canary: 1 }, { wave: "25%" }, { wave: "75%" }]),
    observe: DurationSchema.default("15m").meta({ description: "Observation after each phase." }),
    maxUnavailable: positiveAmount
      .default("25%")
      .meta({ description: "Most assets down at once, per group and region." }),
    failureBudget: z
      .strictObject({ perWave: AmountSchema.default(0), total: AmountSchema.default(0) })
      .prefault({})
      .meta({ description: "Failed assets tolerated per wave and in total before the rollout halts." }),
    rollback: z.enum(["automatic", "manual"]).default("automatic"),
    finalVerification: z
      .boolean()
      .default(true)
      .meta({ description: "Verify the whole scope after the last phase." }),
    progressDeadline: DurationSchema.default("2h").meta({ description: "A phase that takes longer fails." }),
    // Optional rather than defaulted: a new default would change the content hash of every stored policy.
    revertTimeout: DurationSchema.optional().meta({
      description: `How long one asset's revert may run before it counts as hung (default ${DEFAULT_REVERT_TIMEOUT}); rollbacks are not bound by progressDeadline.`,
    }),
    notifyBefore: DurationSchema.default("30m").meta({
      description: "Announce a rollout this long before it starts.",
    }),
    typicalFleetSize: z
      .number()
      .int({ error: "typicalFleetSize must be a whole number" })
      .min(1, { error: "typicalFleetSize must be at least 1" })
      .optional()
      .meta({
        description:
          "How many assets a rollout under this policy usually covers: `policy validate` warns about phases that would be empty at this size.",
      }),
  })
  .superRefine((r, ctx) => {
    if (!Array.isArray(r.phases)) return;
    r.phases.forEach((p, i) => {
      if (i > 0 && p && typeof p === "object" && p.canary !== undefined) {
        ctx.addIssue({
          code: "custom",
          path: ["phases", i, "canary"],
          message: "only the first phase can be a canary",
        });
      }
    });
  });

// ---- ordering and notifications ----------------------------------------------------------------------

const RingSchema = z.strictObject({
  selector: SelectorSchema,
  soak: DurationSchema.optional().meta({
    description: "Wait after the previous ring before this one starts.",
  }),
  promote: z
    .enum(["exact", "latest"])
    .default("exact")
    .meta({ description: "exact: roll out the exact patch set that passed the previous ring." }),
});

export const NOTIFICATION_EVENTS = [
  "scheduled",
  "starting-soon",
  "started",
  "paused",
  "resumed",
  "failed",
  "rolled-back",
  "completed",
] as const;

const WebhookSchema = z.strictObject({
  name: NameSchema,
  url: z
    .url({ error: (iss) => `${show(iss.input)} is not a URL` })
    .refine((u) => /^https?:$/i.test(new URL(u).protocol), {
      error: (iss) => `${show(iss.input)} is not an http or https URL`,
    }),
  format: z.enum(["json", "slack"]).default("json"),
  events: z
    .array(z.enum(NOTIFICATION_EVENTS))
    .min(1)
    .default([...NOTIFICATION_EVENTS]),
});

const NotificationsSchema = z.strictObject({
  leadTime: DurationSchema.default("30m").meta({ description: "When `starting-soon` is sent." }),
  webhooks: z.array(WebhookSchema).default([]),
});

// ---- verification ------------------------------------------------------------------------------------

/**
 * A check the agent runs on the host after an install and after a rollback: `http` (GET a URL, expect
 * a status and optionally a body match) or `command` (run argv without a shell, expect an exit code).
 * Strings may refer to the asset's fields and labels (`{{labels.health-port}}`, `{{name}}`,
 * `{{group}}`), filled in per asset. One object with both kinds' fields, so every error names its field.
 */
export const HealthCheckSchema = z
  .strictObject({
    name: NameSchema,
    http: z
      .string()
      .min(1)
      .max(2000)
      .optional()
      .meta({ description: "URL to GET, e.g. http://127.0.0.1:{{labels.health-port}}/health" }),
    expectStatus: z.number().int().min(100).max(599).default(200),
    bodyMatch: z
      .string()
      .max(500)
      .optional()
      .meta({ description: "A regular expression the body must match." }),
    command: z
      .array(z.string({ error: "each argument must be a string (quote it in YAML)" }).max(4000))
      .min(1, { error: "command needs at least the program" })
      .max(100)
      .optional()
      .meta({ description: "argv, run without a shell, e.g. [systemctl, is-active, nginx]" }),
    expectExit: z.number().int().min(0).max(255).default(0),
    timeout: DurationSchema.default("5s").meta({ description: "How long one try may take." }),
    retries: z
      .number()
      .int({ error: "retries must be a whole number" })
      .min(0)
      .max(100)
      .default(0)
      .meta({ description: "Tries after the first that fails, before the check fails." }),
    interval: DurationSchema.default("1s").meta({ description: "Wait between tries." }),
  })
  .superRefine((c, ctx) => {
    if ((c.http === undefined) === (c.command === undefined)) {
      ctx.addIssue({
        code: "custom",
        path: [],
        message: "a health check has either `http: URL` or `command: [argv…]`",
      });
    }
    if (c.bodyMatch !== undefined) {
      try {
        new RegExp(c.bodyMatch);
      } catch {
        ctx.addIssue({
          code: "custom",
          path: ["bodyMatch"],
          message: "bodyMatch is not a regular expression",
        });
      }
    }
  });

export const VerificationSchema = z.strictObject({
  healthChecks: z.array(HealthCheckSchema).default([]).meta({
    description: "Checks run on each asset after its install and after a rollback; all must pass.",
  }),
});

// ---- the policy --------------------------------------------------------------------------------------

function uniqueNames(items: unknown, at: readonly (string | number)[], ctx: z.RefinementCtx): void {
  if (!Array.isArray(items)) return;
  const seen = new Set<string>();
  items.forEach((item: unknown, i) => {
    const name = item && typeof item === "object" && "name" in item ? item.name : undefined;
    if (typeof name !== "string") return;
    if (seen.has(name))
      ctx.addIssue({ code: "custom", path: [...at, i, "name"], message: `duplicate name "${name}"` });
    seen.add(name);
  });
}

export const PolicySchema = z
  .strictObject({
    version: z.literal(1).default(1).meta({ description: "Policy file format version." }),
    name: PolicyNameSchema.default("unnamed"),
    description: z.string().optional(),
    classification: ClassificationSchema.prefault({}),
    maintenanceWindows: z
      .array(MaintenanceWindowSchema)
      .default([])
      .meta({ description: "When changes may start; none means any time (outside freezes)." }),
    freezes: z.array(FreezeSchema).default([]).meta({ description: "When no change may start." }),
    approvals: ApprovalsSchema.prefault({}),
    rollout: RolloutSchema.prefault({}),
    verification: VerificationSchema.prefault({}),
    ordering: z
      .array(RingSchema)
      .default([])
      .meta({ description: "Rings in sequence, e.g. group=mgmt then group=main after a soak." }),
    notifications: NotificationsSchema.prefault({}),
  })
  .superRefine((p, ctx) => {
    uniqueNames(p.maintenanceWindows, ["maintenanceWindows"], ctx);
    uniqueNames(p.freezes, ["freezes"], ctx);
    uniqueNames(p.notifications?.webhooks, ["notifications", "webhooks"], ctx);
    uniqueNames(p.verification?.healthChecks, ["verification", "healthChecks"], ctx);
  })
  .meta({
    title: "autopatch policy",
    description: "Policy for classifying, scheduling and rolling out patches.",
  });

export type Policy = z.output<typeof PolicySchema>;
export type PolicyInput = z.input<typeof PolicySchema>;
export type MaintenanceWindow = z.output<typeof MaintenanceWindowSchema>;
export type Freeze = z.output<typeof FreezeSchema>;
export type Phase = z.output<typeof PhaseSchema>;
export type ApprovalRule = z.output<typeof ApprovalRuleSchema>;
export type Webhook = z.output<typeof WebhookSchema>;
export type HealthCheck = z.output<typeof HealthCheckSchema>;
export type Verification = z.output<typeof VerificationSchema>;
export type NotificationEvent = (typeof NOTIFICATION_EVENTS)[number];

/** The JSON Schema (draft 2020-12) of a policy file, as an editor or CI validates it (input side). */
export function policyJsonSchema(): Record<string, unknown> {
  return z.toJSONSchema(PolicySchema, { io: "input", unrepresentable: "any" }) as Record<string, unknown>;
}
