import { readFileSync, writeFileSync } from "node:fs";
import { z } from "zod";
import type { ChangeRequest } from "../changes/change-request.js";
import type { PlanV2 } from "../changes/plan.js";
import { reasonError } from "../domain/errors.js";

/**
 * A saved plan, as `terraform plan -out` saves one: the change it was computed for and the plan
 * itself. `change create --plan FILE` creates the same change and keeps it only if the server plans
 * exactly the same rollout (policy version, targets, phases, gates); start times may move.
 */
const PlanFileSchema = z.object({
  kind: z.literal("autopatch-plan"),
  version: z.literal(1),
  change: z.object({
    id: z.string(),
    ecosystem: z.string(),
    package: z.string(),
    version: z.string(),
    artifact: z.object({ name: z.string(), sha256: z.string() }).nullable(),
    source: z.string().nullable(),
    selector: z.string(),
    policy: z.string(),
    class: z.string(),
    emergency: z.boolean(),
    justification: z.string(),
    ticket: z.string().nullable(),
    risk: z.string().nullable(),
    rollback: z.string().nullable(),
    advisories: z.array(z.string()),
  }),
  // The plan as the API returned it; compared by its fingerprint, kept whole for people to read.
  plan: z.looseObject({ version: z.literal(2) }),
});

export type PlanFile = z.infer<typeof PlanFileSchema>;

export function planFileFor(change: ChangeRequest, plan: PlanV2): PlanFile {
  return {
    kind: "autopatch-plan",
    version: 1,
    change: {
      id: change.id,
      ecosystem: plan.patch.ecosystem,
      package: change.patch.package,
      version: change.patch.version,
      artifact: change.patch.artifact,
      source: change.patch.source,
      selector: change.selector,
      policy: `${change.policy.name}@${change.policy.version}`,
      class: change.class,
      emergency: change.emergency,
      justification: change.justification,
      ticket: change.patch.ticket,
      risk: change.risk,
      rollback: change.rollback,
      advisories: change.patch.advisories,
    },
    plan: plan as unknown as PlanFile["plan"],
  };
}

export function writePlanFile(path: string, file: PlanFile): void {
  writeFileSync(path, `${JSON.stringify(file, null, 2)}\n`);
}

export function readPlanFile(path: string): PlanFile {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch {
    throw reasonError("cli.plan-file", `cannot read the plan file ${path}`, { where: "--plan" });
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw reasonError("cli.plan-file", `${path} is not JSON: save one with change plan ID --out FILE`, {
      where: "--plan",
    });
  }
  const result = PlanFileSchema.safeParse(parsed);
  if (!result.success) {
    const issue = result.error.issues[0];
    throw reasonError("cli.plan-file", `${path} is not a saved plan: ${issue?.message ?? "invalid"}`, {
      where: `${path}#/${(issue?.path ?? []).join("/")}`,
    });
  }
  return result.data;
}

/** What a rollout would do, without the instants that move with the clock. */
function fingerprint(plan: PlanV2): unknown {
  return {
    policy: plan.policy,
    selector: plan.selector,
    emergency: plan.emergency,
    patch: plan.patch,
    targets: plan.targets.map((t) => [t.id, t.fromVersion, t.toVersion]),
    skipped: plan.skipped.map((s) => [s.id, s.reason]),
    phases: plan.phases.map((p) => [p.name, p.batches, p.gates, p.failureBudget, p.observeMs]),
    rollback: plan.rollback,
    verification: plan.verification,
  };
}

/** Where the plan now differs from the saved one, in words; null when it is the same rollout. */
export function planDrift(saved: PlanFile, now: PlanV2): string | null {
  const before = fingerprint(saved.plan as unknown as PlanV2) as Record<string, unknown>;
  const after = fingerprint(now) as Record<string, unknown>;
  const changed = Object.keys(after).filter((k) => JSON.stringify(before[k]) !== JSON.stringify(after[k]));
  return changed.length === 0 ? null : changed.join(", ");
}
