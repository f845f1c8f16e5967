/**
 * The contract every executor kind keeps, run over every registered kind on the local dpkg fleet
 * (two hosts with real dpkg roots, services and agents): a dispatched operation reaches its host
 * once however often it is dispatched, observe follows it pending → running → succeeded, the install
 * really happens once, a withdrawn operation never reaches a host, and a host that goes silent while
 * it holds an operation is reported lost within two heartbeat intervals.
 */
import "../src/executors/index.js";
import { createHash, createPublicKey, verify } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AGENT_PROTOCOL_HEADER, AGENT_PROTOCOL_VERSION } from "../src/agent/protocol.js";
import type { ArtifactMeta } from "../src/artifacts/artifact.js";
import type { OperationOutcome } from "../src/executors/executor.js";
import { registeredExecutors } from "../src/executors/registry.js";
import { stopAgents } from "../src/localfleet/fleet.js";
import type { LeasedOperation, OperationResult, OperationSpec } from "../src/rollout/operation.js";
import type { ServiceContext } from "../src/service/context.js";
import { startTestFleet, type TestFleet, type TestFleetHost } from "../src/testfleet/harness.js";
import { FLEET_VERSIONS, installLogPath } from "../src/testfleet/packages.js";
import { queueOperation } from "./helpers/operations.js";

/**
 * Who plays the host side of each executor kind here. "stand-in": the fleet's agent processes are
 * stopped and this test speaks the agent protocol over HTTP with each host's own credential (from its
 * state dir's agent.json), installing into the host's real dpkg root. "agent": the fleet's real agent
 * processes run the operations and the test only watches. The hook for the real agent: add "agent"
 * to the agent kind's list once the agent runs operations.
 */
type HostSide = "stand-in" | "agent";
const HOST_SIDES: Record<string, readonly HostSide[]> = { agent: ["stand-in", "agent"] };

const HEARTBEAT_MS = 500;

/** Plays one host's agent over HTTP, as the real agent would: heartbeats, long-polls, reports. */
class StandInAgent {
  #beating: ReturnType<typeof setInterval> | null = null;
  readonly installs: string[] = [];

  constructor(
    readonly fleet: TestFleet,
    readonly host: TestFleetHost,
    readonly credential: string,
    readonly publicKeyPem: string,
  ) {}

  async #call(method: string, path: string, body?: unknown): Promise<Response> {
    return fetch(`${this.fleet.server}${path}`, {
      method,
      headers: {
        authorization: `Bearer ${this.credential}`,
        [AGENT_PROTOCOL_HEADER]: String(AGENT_PROTOCOL_VERSION),
        ...(body === undefined ? {} : { "content-type": "application/json" }),
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
  }

  startHeartbeats(): void {
    const beat = () => void this.#call("POST", "/api/v1/agent/heartbeat", {}).catch(() => undefined);
    beat();
    this.#beating = setInterval(beat, HEARTBEAT_MS / 2);
  }

  stopHeartbeats(): void {
    if (this.#beating) clearInterval(this.#beating);
    this.#beating = null;
  }

  async lease(waitMs: number): Promise<LeasedOperation | null> {
    const r = await this.#call("GET", `/api/v1/agent/operations/next?waitMs=${waitMs}`);
    if (r.status === 204) return null;
    expect(r.status, await r.clone().text()).toBe(200);
    return (await r.json()) as LeasedOperation;
  }

  async step(op: LeasedOperation, step: string): Promise<void> {
    const r = await this.#call("POST", `/api/v1/agent/operations/${op.id}/progress`, { step });
    expect(r.status, await r.clone().text()).toBe(200);
  }

  /** snapshot → download, check, install → read back, health: what a patch is on the host. */
  async runPatch(op: LeasedOperation, between: (step: string) => Promise<void>): Promise<void> {
    const startedAt = new Date().toISOString();
    const artifact = op.payload.artifact;
    if (!artifact) throw new Error("a patch without its artifact");
    await this.step(op, "snapshotting");
    const before = await this.host.dpkg.installedVersion(op.payload.package);
    await between("snapshotting");
    await this.step(op, "applying");
    const download = await this.#call("GET", `/api/v1/artifacts/${artifact.sha256}`);
    expect(download.status).toBe(200);
    const bytes = Buffer.from(await download.arrayBuffer());
    expect(createHash("sha256").update(bytes).digest("hex")).toBe(artifact.sha256);
    const key = createPublicKey(this.publicKeyPem);
    expect(
      verify(null, Buffer.from(artifact.sha256, "utf8"), key, Buffer.from(artifact.signature, "base64")),
    ).toBe(true);
    const dir = mkdtempSync(join(tmpdir(), "autopatch-standin-"));
    try {
      const file = join(dir, artifact.fileName);
      writeFileSync(file, bytes);
      await this.host.dpkg.install([file]);
      this.installs.push(op.key);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    await between("applying");
    await this.step(op, "verifying");
    const installedVersion = await this.host.dpkg.installedVersion(op.payload.package);
    const checks = [];
    for (const check of op.payload.healthChecks) {
      const t0 = Date.now();
      const res = await fetch(check.http ?? "", { signal: AbortSignal.timeout(check.timeoutMs) });
      checks.push({
        name: check.name,
        ok: res.status === check.expectStatus,
        tries: 1,
        detail: `HTTP ${res.status}`,
        durationMs: Date.now() - t0,
      });
    }
    const result: OperationResult = {
      ok: installedVersion === op.payload.toVersion && checks.every((c) => c.ok),
      installedVersion,
      snapshot: {
        provider: "dpkg",
        takenAt: startedAt,
        packages: [
          { name: op.payload.package, version: before, arch: "all", artifactSha256: null, hostPath: null },
        ],
      },
      checks,
      replayed: false,
      startedAt,
      finishedAt: new Date().toISOString(),
    };
    const r = await this.#call("POST", `/api/v1/agent/operations/${op.id}/result`, result);
    expect(r.status, await r.clone().text()).toBe(200);
  }
}

async function observeUntil(
  observe: () => Promise<OperationOutcome>,
  done: (o: OperationOutcome) => boolean,
  timeoutMs: number,
): Promise<{ seen: string[]; last: OperationOutcome }> {
  const seen: string[] = [];
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const last = await observe();
    if (seen.at(-1) !== last.status) seen.push(last.status);
    if (done(last) || Date.now() > deadline) return { seen, last };
    await sleep(25);
  }
}

const installLines = (host: TestFleetHost) => {
  try {
    return readFileSync(installLogPath(host.dpkg.root), "utf8").trim().split("\n").filter(Boolean);
  } catch {
    return [];
  }
};

const cases = registeredExecutors().flatMap((executor) =>
  (HOST_SIDES[executor.kind] ?? []).map((side) => ({ executor, side, name: `${executor.kind} (${side})` })),
);

it("every registered executor kind has a host side in this contract test", () => {
  expect(registeredExecutors().map((e) => e.kind)).toContain("agent");
  for (const e of registeredExecutors()) expect(HOST_SIDES[e.kind]?.length ?? 0).toBeGreaterThan(0);
});

describe.each(cases)("executor contract: $name", ({ executor, side }) => {
  let dir: string;
  let fleet: TestFleet;
  let ctx: ServiceContext;
  let artifact: ArtifactMeta;
  const standIns = new Map<string, StandInAgent>();
  let change = 0;

  const patchOf = (host: TestFleetHost) =>
    queueOperation(ctx, {
      changeId: `chg-contract-${++change}`,
      asset: { id: assetIdOf(host), name: host.name },
      payload: {
        package: artifact.package,
        toVersion: artifact.version,
        artifact: {
          sha256: artifact.sha256,
          fileName: artifact.fileName,
          package: artifact.package,
          version: artifact.version,
          arch: artifact.arch,
          size: artifact.size,
          signature: artifact.signature,
        },
        healthChecks: [
          {
            name: "service",
            http: host.service.healthUrl,
            expectStatus: 200,
            expectExit: 0,
            timeoutMs: 2000,
            retries: 0,
            intervalMs: 0,
          },
        ],
      },
    });
  const agentState = (host: TestFleetHost) =>
    JSON.parse(readFileSync(join(host.stateDir, "agent.json"), "utf8")) as {
      assetId: string;
      credential: string;
    };
  const assetIdOf = (host: TestFleetHost) => agentState(host).assetId;
  const opState = async (spec: OperationSpec) =>
    (
      await ctx.store.db
        .selectFrom("operations")
        .select("state")
        .where("id", "=", spec.id)
        .executeTakeFirstOrThrow()
    ).state;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "autopatch-contract-"));
    fleet = await startTestFleet({ dir, hosts: 2, heartbeatIntervalMs: HEARTBEAT_MS });
    if (!fleet.running) throw new Error("the contract test needs the fleet's own server");
    ctx = fleet.running.ctx;
    const upload = await fetch(`${fleet.server}/api/v1/artifacts`, {
      method: "POST",
      headers: {
        authorization: `Bearer ${fleet.token}`,
        "content-type": "application/vnd.debian.binary-package",
      },
      body: readFileSync(fleet.packages.good),
    });
    expect(upload.status).toBe(201);
    artifact = (await upload.json()) as ArtifactMeta;
    if (side === "stand-in") {
      await stopAgents(fleet.hosts.map((h) => h.agent));
      for (const host of fleet.hosts) {
        const s = new StandInAgent(
          fleet,
          host,
          agentState(host).credential,
          fleet.running.checkpointer.key.publicKeyPem,
        );
        s.startHeartbeats();
        standIns.set(host.name, s);
      }
    }
  }, 120_000);
  afterAll(async () => {
    for (const s of standIns.values()) s.stopHeartbeats();
    await fleet?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it("dispatched twice, an operation reaches its host once; observe goes pending → running → succeeded", async () => {
    const host = fleet.hosts[0] as TestFleetHost;
    const linesBefore = installLines(host).length;
    const spec = await patchOf(host);
    await executor.dispatch(ctx, spec);
    await executor.dispatch(ctx, spec);
    const ops = await ctx.store.db
      .selectFrom("operations")
      .select("id")
      .where("idempotency_key", "=", spec.key)
      .execute();
    expect(ops).toHaveLength(1);

    if (side === "stand-in") {
      const agent = standIns.get(host.name) as StandInAgent;
      expect(await executor.observe(ctx, spec)).toEqual({ status: "pending" });
      const op = await agent.lease(5000);
      expect(op?.id).toBe(spec.id);
      await agent.runPatch(op as LeasedOperation, async (step) => {
        expect(await executor.observe(ctx, spec)).toEqual({ status: "running", step });
      });
      // A second host never sees it.
      expect(
        await (standIns.get((fleet.hosts[1] as TestFleetHost).name) as StandInAgent).lease(0),
      ).toBeNull();
    }
    const { seen, last } = await observeUntil(
      () => executor.observe(ctx, spec),
      (o) => o.status === "succeeded" || o.status === "failed" || o.status === "lost",
      60_000,
    );
    expect(last).toMatchObject({
      status: "succeeded",
      result: { ok: true, installedVersion: FLEET_VERSIONS.good },
    });
    // Observing several at once says what observing each says (an operation not stored: pending).
    if (executor.observeAll) {
      const unknown = { ...spec, id: "op-not-stored", key: `${spec.key}-not-stored` };
      expect(await executor.observeAll(ctx, [spec, unknown])).toEqual([
        last,
        await executor.observe(ctx, unknown),
      ]);
    }
    // Observed statuses only ever move forward.
    const order = ["pending", "running", "succeeded"];
    expect(seen.map((s) => order.indexOf(s))).toEqual([...seen.map((s) => order.indexOf(s))].sort());
    expect(await host.dpkg.installedVersion(artifact.package)).toBe(FLEET_VERSIONS.good);
    const added = installLines(host).slice(linesBefore);
    expect(added).toHaveLength(1);
    expect(added[0]).toContain(`postinst configure ${FLEET_VERSIONS.good}`);
    // Dispatching a finished operation again changes nothing on the host.
    await executor.dispatch(ctx, spec);
    await sleep(300);
    expect(installLines(host).slice(linesBefore)).toHaveLength(1);
  }, 90_000);

  it("a withdrawn operation never reaches a host", async () => {
    const host = fleet.hosts[1] as TestFleetHost;
    const linesBefore = installLines(host).length;
    const spec = await patchOf(host);
    await executor.cancel(ctx, spec);
    await executor.dispatch(ctx, spec);
    if (side === "stand-in") expect(await (standIns.get(host.name) as StandInAgent).lease(500)).toBeNull();
    else await sleep(2000);
    expect(await opState(spec)).toBe("cancelled");
    expect((await executor.observe(ctx, spec)).status).not.toBe("succeeded");
    if (executor.observeAll)
      expect(await executor.observeAll(ctx, [spec])).toEqual([await executor.observe(ctx, spec)]);
    expect(installLines(host).slice(linesBefore)).toEqual([]);
  }, 30_000);

  it("a host that goes silent while it holds an operation is lost within two heartbeat intervals", async () => {
    const host = fleet.hosts[1] as TestFleetHost;
    const spec = await patchOf(host);
    await executor.dispatch(ctx, spec);
    if (side === "stand-in") {
      const agent = standIns.get(host.name) as StandInAgent;
      const op = await agent.lease(5000);
      expect(op?.id).toBe(spec.id);
      agent.stopHeartbeats();
    } else {
      const deadline = Date.now() + 30_000;
      while ((await opState(spec)) === "queued" && Date.now() < deadline) await sleep(20);
      host.agent.kill("SIGKILL");
    }
    const silentSince = Date.now();
    const { last } = await observeUntil(
      () => executor.observe(ctx, spec),
      (o) => o.status === "lost" || o.status === "succeeded" || o.status === "failed",
      10_000,
    );
    expect(last.status).toBe("lost");
    if (executor.observeAll) expect((await executor.observeAll(ctx, [spec]))[0]?.status).toBe("lost");
    // Two intervals after its last heartbeat (at most one beat period before it went silent), plus slack.
    expect(Date.now() - silentSince).toBeLessThan(2 * HEARTBEAT_MS + HEARTBEAT_MS + 1000);
  }, 60_000);
});
