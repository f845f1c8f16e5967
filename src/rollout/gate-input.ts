/**
 * What a gate (src/gates) sees and what it answers: the engine's side of the gate interface, so that
 * the engine depends on no gate and every gate on the engine's types only.
 */
import type { PlanGateKind, PlanV2 } from "../changes/plan.js";
import type { AssetState, PhaseState } from "./model.js";
import type { RolloutView } from "./view.js";

/** A gate's verdict: pass, fail (with why), or wait (and until when, if known). */
export interface GateResult {
  kind: PlanGateKind;
  status: "pass" | "fail" | "wait";
  reason: string;
  /** ISO time the gate may change its verdict by itself (an observation ending). */
  until?: string;
  evaluatedAt: string;
}

/** What a gate sees: the rollout's stored state at one instant. */
export interface GateInput {
  plan: PlanV2;
  phaseIdx: number;
  phase: {
    state: PhaseState;
    startedAt: string | null;
    observeUntil: string | null;
    /** When it passed or failed. */
    finishedAt: string | null;
    promoted: boolean;
    /** Time spent paused since it started: not counted against its progress deadline. */
    pausedMs: number;
  };
  assets: ReadonlyArray<{
    id: string;
    name: string;
    phaseIdx: number;
    state: AssetState;
    /** Last verification of the asset passed (version read back and every check). */
    verified: boolean;
    /** The asset's agent heartbeated within two intervals. */
    heartbeating: boolean;
    /** The outcome of its final verification (a `verify` operation); null before one was dispatched. */
    verification: "pending" | "passed" | "failed" | null;
    finishedAt: string | null;
  }>;
  now: Date;
}

/** The gates' input: the rollout as it stands once the observed results are taken in. */
export function gateInput(view: RolloutView, phaseIdx: number, now: Date): GateInput {
  const phase = view.phases.find((p) => p.idx === phaseIdx);
  // A pause still going on counts as paused time already.
  const ongoing =
    view.rollout.pausedSince !== null && phaseIdx === view.rollout.currentPhase
      ? Math.max(0, now.getTime() - new Date(view.rollout.pausedSince).getTime())
      : 0;
  const verifyOf = new Map(
    view.operations
      .filter((o) => o.action === "verify")
      .map((o) => [`${o.assetId}/${o.attempt}`, o.outcome.status] as const),
  );
  return {
    plan: view.plan,
    phaseIdx,
    phase: {
      state: phase?.state ?? "pending",
      startedAt: phase?.startedAt ?? null,
      observeUntil: phase?.observeUntil ?? null,
      finishedAt: phase?.finishedAt ?? null,
      promoted: phase?.promotedBy !== null && phase?.promotedBy !== undefined,
      pausedMs: (phase?.pausedMs ?? 0) + ongoing,
    },
    assets: view.assets.map((a) => {
      const v = verifyOf.get(`${a.id}/${a.attempt}`);
      return {
        id: a.id,
        name: a.name,
        phaseIdx: a.phaseIdx,
        state: a.state,
        // The engine moves an asset to done only once its version was read back and its checks passed.
        verified: a.state === "done",
        heartbeating: a.heartbeating,
        finishedAt: a.finishedAt,
        verification:
          v === undefined
            ? null
            : v === "succeeded"
              ? "passed"
              : v === "pending" || v === "running"
                ? "pending"
                : "failed",
      };
    }),
    now,
  };
}
