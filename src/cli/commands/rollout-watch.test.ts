import { describe, expect, it } from "vitest";
import { AppError } from "../../domain/errors.js";
import type { RolloutState } from "../../rollout/model.js";
import { emptyCounts, type RolloutView } from "../../rollout/queries.js";
import { fingerprint, formatElapsed, renderWatch, watchRollout } from "./rollout-watch.js";

function view(
  state: RolloutState,
  web1: "applying" | "done" | "failed" | "reverted",
  evaluatedAt = "2026-03-02T10:00:05.000Z",
): RolloutView {
  const counts = emptyCounts();
  counts[web1] = 1;
  counts.pending = 1;
  return {
    id: "ro-1",
    changeId: "chg-1",
    state,
    stateReason: null,
    pausedBy: null,
    currentPhase: "canary",
    phases: [
      {
        idx: 0,
        name: "canary",
        kind: "canary",
        ring: null,
        state: "running",
        assets: ["web-1"],
        startedAt: "2026-03-02T10:00:00.000Z",
        observeUntil: null,
        finishedAt: null,
        promotedBy: null,
        gates: [{ kind: "health", status: "wait", reason: "0 of 1 verified", evaluatedAt }],
      },
      {
        idx: 1,
        name: "wave-1",
        kind: "wave",
        ring: null,
        state: "pending",
        assets: ["web-2"],
        startedAt: null,
        observeUntil: null,
        finishedAt: null,
        promotedBy: null,
        gates: [],
      },
    ],
    assets: [
      {
        id: "a1",
        name: "web-1",
        state: web1,
        reason: web1 === "failed" ? "health check service failed" : null,
        fromVersion: "1.0",
        toVersion: "1.1",
        startedAt: "2026-03-02T10:00:01.000Z",
        finishedAt: null,
        unavailableSince: null,
        phase: "canary",
        group: "web",
        region: "eu",
        attempt: 1,
      },
      {
        id: "a2",
        name: "web-2",
        state: "pending",
        reason: null,
        fromVersion: "1.0",
        toVersion: "1.1",
        startedAt: null,
        finishedAt: null,
        unavailableSince: null,
        phase: "wave-1",
        group: "web",
        region: "us",
        attempt: 1,
      },
    ],
    counts,
    failedGate: null,
    gateFailedAt: null,
    rollbackScope: null,
    timeToRollbackMs: null,
    incidentId: null,
    stopAll: null,
    revision: 3,
    createdAt: "2026-03-02T10:00:00.000Z",
    startedAt: "2026-03-02T10:00:00.000Z",
    finishedAt: state === "completed" || state === "rolled-back" ? "2026-03-02T10:02:03.000Z" : null,
    updatedAt: "2026-03-02T10:00:05.000Z",
  };
}

/** A server that answers with the views given, one per look, then the last again. */
function server(views: Array<RolloutView | Error>) {
  let i = 0;
  return {
    async get<T>(): Promise<T> {
      const next = views[Math.min(i++, views.length - 1)];
      if (next instanceof Error) throw next;
      return next as T;
    },
  };
}

// The terminal's escape character, by code: redraws start with ESC [ n F, ESC [ J.
const ESC = String.fromCharCode(27);
const NOW = new Date("2026-03-02T10:01:30.000Z");
const quick = { intervalMs: 1, now: () => NOW, sleep: async () => {}, warn: () => {} };

describe("rollout watch", () => {
  it.each([
    [0, "0s"],
    [59_999, "59s"],
    [83_000, "1m23s"],
    [3_723_000, "1h02m03s"],
  ])("formats %d ms as %s", (ms, text) => {
    expect(formatElapsed(ms)).toBe(text);
  });

  it("draws the phase, assets by state, gate results and elapsed time", () => {
    const lines = renderWatch(view("running", "failed"), NOW);
    expect(lines[0]).toBe("rollout ro-1  change chg-1  running  elapsed 1m30s");
    expect(lines).toContain("> canary  running    0/1 done  gates: health wait");
    expect(lines).toContain("assets: pending 1 · failed 1");
    expect(lines).toContain("  health: wait: 0 of 1 verified");
    expect(lines).toContain("  failed web-1: health check service failed");
  });

  it("a gate evaluated again with the same verdict is no change of state", () => {
    expect(fingerprint(view("running", "applying", "2026-03-02T10:00:05.000Z"))).toBe(
      fingerprint(view("running", "applying", "2026-03-02T10:00:06.000Z")),
    );
    expect(fingerprint(view("running", "applying"))).not.toBe(fingerprint(view("running", "done")));
  });

  it("redraws in place on a terminal and exits 0 when the rollout completes", async () => {
    let out = "";
    const code = await watchRollout(
      server([view("running", "applying"), view("running", "done"), view("completed", "done")]),
      "ro-1",
      {
        ...quick,
        json: false,
        tty: true,
        write: (t) => {
          out += t;
        },
      },
    );
    expect(code).toBe(0);
    const frames = out.split(new RegExp(`${ESC}\\[\\d+F${ESC}\\[J`));
    expect(frames).toHaveLength(3);
    expect(frames[0]?.split("\n")[0]).toMatch(/running/);
    // Each redraw goes back exactly as many lines as the frame before drew.
    const ups = [...out.matchAll(new RegExp(`${ESC}\\[(\\d+)F`, "g"))].map((m) => Number(m[1]));
    expect(ups[0]).toBe((frames[0]?.split("\n").length ?? 0) - 1);
    expect(frames[2]).toMatch(/completed/);
  });

  it("prints one JSON line per change, waits out an unreachable server, and exits 1 when rolled back", async () => {
    const lines: string[] = [];
    const warnings: string[] = [];
    const unreachable = new AppError("internal", "cannot reach the autopatch server at http://x");
    const code = await watchRollout(
      server([
        view("running", "applying"),
        view("running", "applying"),
        unreachable,
        unreachable,
        view("rolled-back", "reverted"),
      ]),
      "ro-1",
      { ...quick, json: true, tty: false, write: (t) => lines.push(t), warn: (t) => warnings.push(t) },
    );
    expect(code).toBe(1);
    expect(lines.map((l) => (JSON.parse(l) as { state: string }).state)).toEqual(["running", "rolled-back"]);
    expect(warnings).toHaveLength(1);
  });

  it("a refusal is not retried", async () => {
    const denied = new AppError("forbidden", "no");
    await expect(watchRollout(server([denied]), "ro-1", { ...quick, json: true, tty: false })).rejects.toBe(
      denied,
    );
  });

  it("gives up after the timeout with exit 1", async () => {
    let t = NOW.getTime();
    const code = await watchRollout(server([view("running", "applying")]), "ro-1", {
      ...quick,
      json: true,
      tty: false,
      timeoutMs: 5000,
      now: () => new Date(t),
      sleep: async (ms) => {
        t += ms * 1000;
      },
      write: () => {},
    });
    expect(code).toBe(1);
  });
});
