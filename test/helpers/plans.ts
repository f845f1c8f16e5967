import type { PlanGate, PlanPhaseV2, PlanTarget, PlanV2 } from "../../src/changes/plan.js";

/** A target for a hand-built plan: `name` patched from 1.0-1 to 1.1-1 unless told otherwise. */
export interface TargetSpec {
  name: string;
  group?: string;
  region?: string;
  id?: string;
  fromVersion?: string;
  toVersion?: string;
}

export interface PhaseSpec {
  name?: string;
  kind?: "canary" | "wave";
  ring?: string | null;
  /** Asset names, in execution order. */
  assets: string[];
  observeMs?: number;
  failureBudget?: number;
  /** Replaces the default gates (health, failure budget, observation, progress deadline). */
  gates?: PlanGate[];
  /** Added to the default gates. */
  extraGates?: PlanGate[];
}

export interface PlanSpec {
  targets: TargetSpec[];
  phases: PhaseSpec[];
  maxUnavailable?: { group?: Record<string, number>; region?: Record<string, number> };
  /** The limit of every group and region not named in maxUnavailable. */
  defaultLimit?: number;
  totalFailureBudget?: number;
  progressDeadlineMs?: number;
  /** Absent: the plan leaves it out, as plans frozen before the setting did. */
  revertTimeoutMs?: number;
  notifyBeforeMs?: number;
  rollback?: "automatic" | "manual";
  finalVerification?: boolean;
  emergency?: boolean;
  policy?: { name: string; version: number; hash: string };
  package?: string;
  version?: string;
  artifactSha256?: string | null;
}

export const idOf = (name: string): string => `id-${name}`;

/** A PlanV2 as the planner would freeze it, built by hand: what the engine executes. */
export function buildPlanV2(spec: PlanSpec): PlanV2 {
  const toVersion = spec.version ?? "1.1-1";
  const targets: PlanTarget[] = spec.targets.map((t) => ({
    id: t.id ?? idOf(t.name),
    name: t.name,
    environment: "prod",
    group: t.group ?? "web",
    region: t.region ?? "eu",
    fromVersion: t.fromVersion ?? "1.0-1",
    toVersion: t.toVersion ?? toVersion,
  }));
  const byName = new Map(targets.map((t) => [t.name, t]));
  const deadline = spec.progressDeadlineMs ?? 3_600_000;
  const phases: PlanPhaseV2[] = spec.phases.map((p, i) => {
    const observeMs = p.observeMs ?? 0;
    const failureBudget = p.failureBudget ?? 0;
    const defaults: PlanGate[] = [
      { kind: "health" },
      { kind: "failure-budget", max: failureBudget },
      ...(observeMs > 0 ? [{ kind: "observation" as const, ms: observeMs }] : []),
      { kind: "progress-deadline", ms: deadline },
    ];
    const assets = p.assets.map((name) => {
      const t = byName.get(name);
      if (!t) throw new Error(`phase ${i} names ${name}, which is no target`);
      return { id: t.id, name };
    });
    return {
      name: p.name ?? (i === 0 && (p.kind ?? "canary") === "canary" ? "canary" : `wave-${i}`),
      kind: p.kind ?? (i === 0 ? "canary" : "wave"),
      ring: p.ring ?? null,
      assets,
      batches: [assets.map((a) => a.id)],
      start: "2026-01-01T00:00:00.000Z",
      observeMs,
      failureBudget,
      gates: [...(p.gates ?? defaults), ...(p.extraGates ?? [])],
    };
  });
  const limit = spec.defaultLimit ?? 1;
  const group: Record<string, number> = {};
  const region: Record<string, number> = {};
  for (const t of targets) {
    group[t.group] = spec.maxUnavailable?.group?.[t.group] ?? limit;
    region[t.region] = spec.maxUnavailable?.region?.[t.region] ?? limit;
  }
  return {
    version: 2,
    policy: spec.policy ?? { name: "default", version: 1, hash: "hash" },
    selector: "",
    emergency: spec.emergency ?? false,
    timezone: "UTC",
    createdAt: "2026-01-01T00:00:00.000Z",
    patch: {
      ecosystem: "deb",
      package: spec.package ?? "demo-svc",
      version: toVersion,
      artifactSha256: spec.artifactSha256 ?? null,
    },
    targets,
    skipped: [],
    phases,
    maxUnavailable: { group, region },
    totalFailureBudget: spec.totalFailureBudget ?? phases.reduce((n, p) => n + p.failureBudget, 0),
    progressDeadlineMs: deadline,
    ...(spec.revertTimeoutMs === undefined ? {} : { revertTimeoutMs: spec.revertTimeoutMs }),
    notifyBeforeMs: spec.notifyBeforeMs ?? 0,
    rollback: spec.rollback ?? "automatic",
    verification: { healthChecks: [] },
    finalVerification: spec.finalVerification ?? false,
    schedule: { start: "2026-01-01T00:00:00.000Z", window: null, reason: "no windows" },
    warnings: [],
    summary: {
      toPatch: targets.length,
      skipped: 0,
      phases: phases.length,
      rings: 1,
      earliestStart: "2026-01-01T00:00:00.000Z",
      estimatedEnd: null,
    },
  };
}
