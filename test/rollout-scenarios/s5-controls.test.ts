import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type HostService, startHostService } from "../../src/testfleet/host-service.js";
import {
  applyPolicy,
  approvedChange,
  auditVerifies,
  describeOperations,
  ended,
  HttpError,
  type RolloutShow,
  rolloutOf,
  type Scenario,
  scenarioPolicy,
  showRollout,
  startScenario,
  waitRollout,
} from "./harness.js";
import {
  type AssetEvent,
  checkInstallsPerKey,
  checkRun,
  installedVersions,
  installMarks,
  Sampler,
} from "./invariants.js";
import { fleetDeb } from "./packages.js";

const ROLLOUT = (extra = "") => `
phases: [{canary: 1}, {wave: 25%}, {wave: 75%}]
observe: 1s
maxUnavailable: 1
failureBudget: {perWave: 0, total: 0}
finalVerification: false
progressDeadline: 2m
${extra}`;

/** Long enough a rollout that a window closing or a freeze starting 4 s in lands in the middle of it. */
const SLOW = ROLLOUT().replace("observe: 1s", "observe: 2s");

/** A local date-time in UTC to the second, as policies write them. */
const local = (ms: number) => new Date(Math.round(ms / 1000) * 1000).toISOString().slice(0, 19);

/** No operation was dispatched between `from` and `to` (audit times, ms). */
function noDispatchBetween(events: readonly AssetEvent[], from: number, to: number): void {
  const inside = events.filter(
    (e) => e.action === "rollout.operation.dispatched" && e.at > from && e.at < to,
  );
  expect(inside.map((e) => `${e.data.action} ${e.data.asset} at ${new Date(e.at).toISOString()}`)).toEqual(
    [],
  );
}

const firstAt = (events: readonly AssetEvent[], action: string) =>
  events.find((e) => e.action === action)?.at;

describe("scenario 5: operator controls, windows, freezes and the progress deadline", () => {
  let s: Scenario;
  // Each change goes one version higher than the last; `at` is where the fleet's hosts are now.
  let n = 0;
  let at = "";
  const services: HostService[] = [];
  beforeAll(async () => {
    s = await startScenario({ name: "s5", hosts: 4, groups: ["web", "api"], regions: ["eu", "us"] });
    at = s.fleet.packages.baseVersion;
    await applyPolicy(s, scenarioPolicy("s5", ROLLOUT()));
    await applyPolicy(s, scenarioPolicy("s5-manual", ROLLOUT("rollback: manual")));
    await applyPolicy(s, scenarioPolicy("s5-promote", ROLLOUT().replace("observe: 1s", "observe: 60s")));
    await applyPolicy(
      s,
      scenarioPolicy("s5-deadline", ROLLOUT().replace("progressDeadline: 2m", "progressDeadline: 4s")),
    );
  }, 180_000);
  afterAll(async () => {
    await Promise.all(services.map((x) => x.close()));
    await s?.close();
  });

  /** Starts a change to the next version under `policy` and samples the fleet while it runs. */
  async function start(policy: string, options: { postinstSleepS?: number } = {}) {
    n += 1;
    const from = at;
    const to = `3.0.${n}-1`;
    const deb = await fleetDeb(s.dir, to, options);
    const marks = installMarks(s.fleet.hosts);
    const sampler = new Sampler(s, s.fleet.hosts).start();
    const changeId = await approvedChange(s, { deb, policy, selector: "environment=prod" });
    const rolloutId = await rolloutOf(s, changeId);
    sampler.rolloutId = rolloutId;
    return { changeId, rolloutId, sampler, marks, from, to };
  }

  type Run = Awaited<ReturnType<typeof start>>;

  async function finish(r: Run, expected: string, timeoutMs = 90_000) {
    const view = await waitRollout(s, r.rolloutId, ended, timeoutMs);
    await r.sampler.stop();
    expect(view.state, await describeOperations(s, r.rolloutId)).toBe(expected);
    const checked = await checkRun(s, { changeId: r.changeId, rolloutId: r.rolloutId, sampler: r.sampler });
    await checkInstallsPerKey(s.store, r.rolloutId, s.fleet.hosts, r.marks, { from: r.from, to: r.to });
    const end = expected === "completed" ? r.to : r.from;
    for (const [name, v] of await installedVersions(s.fleet.hosts)) expect(v, name).toBe(end);
    at = end;
    return { view, events: checked.events };
  }

  const control = (r: Run, name: string, reason: string) =>
    s.operator.post<RolloutShow>(`/api/v1/rollouts/${r.rolloutId}/${name}`, { reason });

  it("pause holds every new dispatch until resume, then the rollout completes", async () => {
    const r = await start("s5");
    await waitRollout(
      s,
      r.rolloutId,
      (v) => v.phases[0]?.state === "observing" || v.phases[0]?.state === "passed",
    );
    expect((await control(r, "pause", "look at the canary")).state).toBe("paused");
    await sleep(2500);
    const held = await showRollout(s, r.rolloutId);
    expect(held).toMatchObject({ state: "paused", stateReason: "look at the canary" });
    expect((await control(r, "resume", "canary fine")).state).toBe("running");
    const { events } = await finish(r, "completed");
    const paused = firstAt(events, "rollout.paused") ?? 0;
    const resumed = firstAt(events, "rollout.resumed") ?? 0;
    expect(resumed - paused).toBeGreaterThanOrEqual(2000);
    noDispatchBetween(events, paused, resumed);
    expect(events.map((e) => e.action)).toEqual(
      expect.arrayContaining(["rollout.control.pause", "rollout.control.resume"]),
    );
  }, 120_000);

  it("abort mid-rollout returns every touched host to its old version and ends aborted", async () => {
    const r = await start("s5");
    await waitRollout(s, r.rolloutId, (v) => v.assets.some((a) => a.state === "done"));
    await control(r, "abort", "wrong patch");
    const { view } = await finish(r, "aborted");
    const touched = view.assets.filter((a) => a.state !== "pending");
    expect(touched.length).toBeGreaterThan(0);
    for (const a of touched) expect(a.state, a.name).toBe("reverted");
  }, 120_000);

  it("retry: a canary whose service was down fails and halts (manual rollback); retry and resume complete it", async () => {
    // Every host's service is down before the change, so whichever host is the canary fails its check.
    const ports = new Map(s.fleet.hosts.map((h) => [h.name, h.service.port]));
    for (const h of s.fleet.hosts) await h.service.close();
    try {
      const r = await start("s5-manual");
      const halted = await waitRollout(s, r.rolloutId, (v) => v.state === "paused" || ended(v));
      expect(halted.state, await describeOperations(s, r.rolloutId)).toBe("paused");
      expect(halted.stateReason).toMatch(/^halted: /);
      const failed = halted.assets.filter((a) => a.state === "failed");
      expect(failed.map((a) => a.name)).toEqual([halted.phases[0]?.assets[0]]);
      // The services come back; the operator retries the canary and resumes.
      await restartServices(ports);
      await s.operator.post(`/api/v1/rollouts/${r.rolloutId}/assets/${failed[0]?.name}/retry`, {
        reason: "service restarted",
      });
      await control(r, "resume", "retry the canary");
      const { view } = await finish(r, "completed");
      expect(view.assets.find((a) => a.name === failed[0]?.name)).toMatchObject({
        state: "done",
        attempt: 2,
      });
    } finally {
      await restartServices(ports);
    }
  }, 120_000);

  /** Starts each host's service again on its port (its labels name it), where it is not running. */
  async function restartServices(ports: ReadonlyMap<string, number>): Promise<void> {
    for (const h of s.fleet.hosts) {
      const up = await fetch(h.service.healthUrl).then(
        () => true,
        () => false,
      );
      if (up) continue;
      const service = await startHostService(h.dpkg.root, { port: ports.get(h.name) as number });
      services.push(service);
      h.service = service;
    }
  }

  it("promote ends each long observation early", async () => {
    const r = await start("s5-promote");
    const t0 = Date.now();
    let promoted = 0;
    for (;;) {
      const v = await showRollout(s, r.rolloutId);
      if (ended(v)) break;
      const observing = v.phases.find((p) => p.state === "observing");
      if (observing) {
        await control(r, "promote", `${observing.name} looks good`).catch((err: unknown) => {
          // The phase may have moved on between the read and the control.
          if (!(err instanceof HttpError) || err.status !== 409) throw err;
        });
        promoted += 1;
        await waitRollout(
          s,
          r.rolloutId,
          (x) => x.phases.find((p) => p.name === observing.name)?.state !== "observing",
        );
      }
      await sleep(100);
    }
    const { view } = await finish(r, "completed");
    // Every phase observes for 60 s; all of them together finished in far less.
    expect(Date.now() - t0).toBeLessThan(60_000);
    expect(promoted).toBeGreaterThanOrEqual(view.phases.length);
    for (const p of view.phases) expect(p.state).toBe("passed");
  }, 120_000);

  it("stop-all pauses the running rollout and keeps a new one from starting until resume-all", async () => {
    const r = await start("s5");
    await waitRollout(s, r.rolloutId, (v) => v.assets.some((a) => a.state !== "pending"));
    await s.operator.post("/api/v1/rollouts/stop-all", { reason: "incident elsewhere" });
    const stopped = await waitRollout(s, r.rolloutId, (v) => v.state === "paused" || ended(v));
    expect(stopped.stateReason).toMatch(/^stop-all:/);
    // A second approved change does not start while the stop holds.
    const other = await approvedChange(s, {
      deb: await fleetDeb(s.dir, "9.9.9-1"),
      policy: "s5",
      selector: "environment=prod",
    });
    await sleep(2000);
    const change = await s.admin.get<{ state: string; rolloutId?: string | null }>(
      `/api/v1/changes/${other}`,
    );
    expect(change.state).toBe("scheduled");
    expect(change.rolloutId ?? null).toBeNull();
    await s.admin.post(`/api/v1/changes/${other}/cancel`, { reason: "not now" });
    await s.operator.post("/api/v1/rollouts/resume-all", { reason: "incident over" });
    const { events } = await finish(r, "completed");
    const stopAt = events.find((e) => e.action === "rollout.paused")?.at ?? 0;
    const resumeAt = events.find((e) => e.action === "rollout.resumed")?.at ?? 0;
    noDispatchBetween(events, stopAt, resumeAt);
  }, 120_000);

  it.each(["finish-in-flight", "pause-now"] as const)(
    "a window closing mid-rollout with onClose %s pauses it; it resumes in the next window",
    async (onClose) => {
      // The window opens once the change is surely approved, so the rollout starts when it opens, and
      // closes 3 s later, mid-rollout, whatever the machine's load did to the approval before.
      const opens = Math.ceil((Date.now() + 8000) / 1000) * 1000;
      const closes = opens + 3000;
      const reopens = closes + 4000;
      const name = `s5-window-${onClose}`;
      await applyPolicy(
        s,
        scenarioPolicy(
          name,
          SLOW,
          `maintenanceWindows:
  - {name: first, start: "${local(opens)}", duration: 3s, timezone: UTC, onClose: ${onClose}}
  - {name: second, start: "${local(reopens)}", duration: 1h, timezone: UTC}
`,
        ),
      );
      const r = await start(name);
      const paused = await waitRollout(s, r.rolloutId, (v) => v.state === "paused" || ended(v), 30_000);
      expect(paused.state, "the window closed before the rollout ended").toBe("paused");
      expect(paused.stateReason).toMatch(/^window-closed:/);
      const { events } = await finish(r, "completed");
      const closedAt = firstAt(events, "rollout.paused") ?? 0;
      const resumedAt = firstAt(events, "rollout.resumed") ?? 0;
      expect(closedAt).toBeGreaterThanOrEqual(Math.round(closes / 1000) * 1000 - 1000);
      expect(resumedAt).toBeGreaterThanOrEqual(Math.round(reopens / 1000) * 1000 - 5);
      // Nothing new went out while the window was closed.
      noDispatchBetween(events, Math.round(closes / 1000) * 1000, Math.round(reopens / 1000) * 1000);
      if (onClose === "pause-now") {
        // Whatever was still queued when the window closed was withdrawn at once.
        const ops = await s.store.db
          .selectFrom("operations")
          .select(["state", "updated_at"])
          .where("rollout_id", "=", r.rolloutId)
          .execute();
        for (const o of ops.filter((x) => x.state === "cancelled")) {
          expect(Date.parse(o.updated_at)).toBeLessThan(Math.round(reopens / 1000) * 1000);
        }
      }
    },
    120_000,
  );

  it("a freeze starting mid-rollout pauses it until the freeze ends", async () => {
    // As for the windows: the rollout starts when its window opens, and the freeze begins 3 s later.
    const opens = Math.ceil((Date.now() + 8000) / 1000) * 1000;
    const from = opens + 3000;
    const to = from + 4000;
    await applyPolicy(
      s,
      scenarioPolicy(
        "s5-freeze",
        SLOW,
        `maintenanceWindows:
  - {name: open, start: "${local(opens)}", duration: 1h, timezone: UTC}
freezes:
  - {name: launch, from: "${local(from)}", to: "${local(to)}", timezone: UTC}
`,
      ),
    );
    const r = await start("s5-freeze");
    const paused = await waitRollout(s, r.rolloutId, (v) => v.state === "paused" || ended(v), 30_000);
    expect(paused.state, "the freeze began before the rollout ended").toBe("paused");
    expect(paused.stateReason).toMatch(/^window-closed: frozen by "launch"/);
    const { events } = await finish(r, "completed");
    noDispatchBetween(events, Math.round(from / 1000) * 1000, Math.round(to / 1000) * 1000);
  }, 120_000);

  it("a phase that misses its progress deadline fails and the change rolls back", async () => {
    // Its postinst takes 5 s; the policy gives each phase 4 s. (The engine gives every operation the
    // phase's deadline too, so the revert, queued behind the install, must finish within 4 s of its own dispatch.)
    const r = await start("s5-deadline", { postinstSleepS: 5 });
    const { view } = await finish(r, "rolled-back");
    expect(view.failedGate).toMatchObject({ kind: "progress-deadline", status: "fail" });
    expect((await auditVerifies(s)).ok).toBe(true);
  }, 120_000);
});
