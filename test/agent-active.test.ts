import { beforeAll, describe, expect, it } from "vitest";
import { verifyAuditChain } from "../src/audit/log.js";
import { enrollAgent } from "../src/auth/enrollment.js";
import { createEnrollmentToken } from "../src/auth/enrollment-tokens.js";
import { authenticate } from "../src/auth/tokens.js";
import type { PackageRecord } from "../src/domain/inventory.js";
import { type Actor, SYSTEM_ACTOR } from "../src/domain/roles.js";
import { recordPollHeartbeat } from "../src/executors/agent/poll-heartbeat.js";
import {
  markStaleAssets,
  recordAgentInventory,
  recordAgentInventoryDelta,
  recordHeartbeat,
} from "../src/inventory/agents.js";
import { allowReenrollment } from "../src/inventory/reenrollment.js";
import { DIALECTS, suiteStore } from "./helpers/stores.js";

const PACKAGES: PackageRecord[] = [
  { ecosystem: "Debian:12", name: "openssl", version: "3.0.11-1~deb12u2", arch: "amd64" },
  { ecosystem: "Debian:12", name: "bash", version: "5.2.15-2+b2", arch: "amd64" },
];

// Each way an agent shows life brings a stale asset back with one `asset.agent-active` event, however
// many of its requests arrive at once.
describe.each(DIALECTS)("a stale agent's return on %s", (dialect) => {
  let clock = new Date("2026-11-20T10:00:00Z");
  let agent: Actor;
  let assetId = "";
  let digest = "";
  let enrollmentToken = "";

  const t = suiteStore(dialect, () => clock);

  beforeAll(async () => {
    enrollmentToken = (await createEnrollmentToken(t.ctx, SYSTEM_ACTOR, { reusable: true })).token;
    const enrolled = await enrollAgent(t.ctx, enrollmentToken, { name: "host-a" });
    assetId = enrolled.assetId;
    agent = await authenticate(t.ctx, enrolled.credential);
    digest = (await recordAgentInventory(t.ctx, agent, PACKAGES)).digest;
  });

  const activeEvents = async () =>
    (
      await t.store.db
        .selectFrom("audit_events")
        .select("id")
        .where("target_id", "=", assetId)
        .where("action", "=", "asset.agent-active")
        .execute()
    ).length;
  const status = async () =>
    (
      await t.store.db
        .selectFrom("assets")
        .select(["agent_status", "last_seen_at"])
        .where("id", "=", assetId)
        .executeTakeFirstOrThrow()
    ).agent_status;

  async function goStale(): Promise<void> {
    clock = new Date(
      clock.getTime() + t.ctx.config.heartbeatIntervalMs * (t.ctx.config.staleAfterMissed + 1),
    );
    expect(await markStaleAssets(t.ctx, SYSTEM_ACTOR)).toEqual(["host-a"]);
    expect(await status()).toBe("stale");
  }

  const heartbeat = () => recordHeartbeat(t.ctx, agent, digest);
  const fullReport = () => recordAgentInventory(t.ctx, agent, PACKAGES);
  const deltaReport = () =>
    recordAgentInventoryDelta(t.ctx, agent, { base: digest, added: [], removed: [], digest });
  const pollAnswer = () => recordPollHeartbeat(t.ctx, agent);

  it.each([
    ["a heartbeat", [heartbeat]],
    ["a full inventory report", [fullReport]],
    ["a delta report", [deltaReport]],
    ["a poll's answer", [pollAnswer]],
    ["several heartbeats at once", [heartbeat, heartbeat, heartbeat]],
    ["several reports at once", [fullReport, fullReport, deltaReport, deltaReport]],
    ["a report, a heartbeat and a poll at once", [fullReport, heartbeat, pollAnswer, deltaReport]],
  ])("%s writes the event once", async (_, signs) => {
    await goStale();
    const before = await activeEvents();
    await Promise.all(signs.map((sign) => sign()));
    expect(await status()).toBe("active");
    expect((await activeEvents()) - before).toBe(1);
    // Signs of life of an active asset write none.
    clock = new Date(clock.getTime() + t.ctx.config.heartbeatIntervalMs);
    await Promise.all(signs.map((sign) => sign()));
    expect((await activeEvents()) - before).toBe(1);
  });

  it("a re-enrollment writes the event once", async () => {
    await goStale();
    const before = await activeEvents();
    await allowReenrollment(t.ctx, SYSTEM_ACTOR, "host-a");
    const again = await enrollAgent(t.ctx, enrollmentToken, { name: "host-a" });
    expect(await status()).toBe("active");
    agent = await authenticate(t.ctx, again.credential);
    await heartbeat();
    expect((await activeEvents()) - before).toBe(1);
    expect((await verifyAuditChain(t.store.db)).ok).toBe(true);
  });
});
