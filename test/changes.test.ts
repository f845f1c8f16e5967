import type { FastifyInstance } from "fastify";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { listAudit, verifyAuditChain } from "../src/audit/log.js";
import { createApiToken } from "../src/auth/tokens.js";
import { approveChange, rejectChange } from "../src/changes/approvals.js";
import { draftFromFindings } from "../src/changes/from-findings.js";
import { getChangePlan, listChanges, readChange } from "../src/changes/queries.js";
import { enqueueStartingSoon } from "../src/changes/reminders.js";
import { reviewChange } from "../src/changes/review.js";
import { cancelChange, createChange, submitChange } from "../src/changes/service.js";
import { SYSTEM_ACTOR } from "../src/domain/roles.js";
import { createAsset } from "../src/inventory/assets.js";
import { importInventory } from "../src/inventory/import.js";
import { activeFreezes } from "../src/policy/calendar.js";
import { loadPolicy } from "../src/policy/loader.js";
import { applyPolicy, getPolicy, listPolicies } from "../src/policy/store.js";
import { buildApp } from "../src/server/app.js";
import type { ServiceContext } from "../src/service/context.js";
import type { Store } from "../src/store/store.js";
import { userActor } from "./helpers/actors.js";
import { dpkgStatus, installed } from "./helpers/assets.js";
import { insertFindings } from "./helpers/findings.js";
import { contextFor, DIALECTS, freshStore, LOOPBACK_WEBHOOKS } from "./helpers/stores.js";

const user = userActor;
const OPS = user("ops", "operator");
const ALICE = user("alice", "admin");
const CAB1 = user("cab-1", "approver");
const CAB2 = user("cab-2", "approver");
const VIEWER = user("watcher", "viewer");

const HOOK = `notifications:
  webhooks:
    - {name: ops-hook, url: "http://127.0.0.1:9/hook"}
`;
const TWO_APPROVERS = `name: two-approvers
approvals:
  required: 2
  expiresAfter: 1h
${HOOK}`;
const FROZEN = `name: frozen
freezes:
  - {name: year-end, from: "2026-12-20T00:00", to: "2027-01-04T00:00", timezone: UTC}
${HOOK}`;
const LOCKED = `name: locked
freezes:
  - {name: audit-week, from: "2026-12-20T00:00", to: "2027-01-04T00:00", timezone: UTC, allowEmergencyOverride: false}
`;

const base = { package: "openssl", version: "3.0.15-1~deb12u1", justification: "CVE fixes" };
const OPENSSL_OLD = "3.0.11-1~deb12u2";

async function seedFleet(ctx: ServiceContext): Promise<void> {
  const fleet: Array<[string, string, string, string]> = [
    ["web-1", "prod", "web", "eu"],
    ["web-2", "prod", "web", "eu"],
    ["web-3", "prod", "web", "us"],
    ["web-4", "prod", "web", "us"],
    ["db-1", "prod", "db", "eu"],
    ["stg-1", "staging", "web", "eu"],
  ];
  for (const [name, environment, group, region] of fleet) {
    await createAsset(ctx, SYSTEM_ACTOR, name, { environment, group, region });
    // Every host has the package below the changes' version: each matched asset is a target.
    await installed(ctx, name, [
      ["openssl", OPENSSL_OLD],
      ["curl", "7.88.1-10+deb12u4"],
    ]);
  }
}

async function counts(store: Store): Promise<{ changes: number; audit: number; policies: number }> {
  const one = async (table: "change_requests" | "audit_events" | "policies") =>
    Number(
      (
        await store.db
          .selectFrom(table)
          .select((eb) => eb.fn.countAll<number>().as("n"))
          .executeTakeFirstOrThrow()
      ).n,
    );
  return {
    changes: await one("change_requests"),
    audit: await one("audit_events"),
    policies: await one("policies"),
  };
}

const KEV_CVE = "CVE-2024-9143";

/** An open, known-exploited finding of `base.package` on an asset: the evidence an emergency may cite. */
async function seedKevFinding(store: Store, asset: string): Promise<void> {
  const row = await store.db
    .selectFrom("assets")
    .select("id")
    .where("name", "=", asset)
    .executeTakeFirstOrThrow();
  await insertFindings(store.db, [
    {
      id: `f-kev-${asset}`,
      asset_id: row.id,
      ecosystem: "Debian:12",
      package_name: base.package,
      arch: "amd64",
      installed_version: "3.0.11-1~deb12u2",
      vuln_id: KEV_CVE,
      advisory_ids: JSON.stringify(["DSA-5800-1"]),
      aliases: JSON.stringify([KEV_CVE, "DSA-5800-1"]),
      fixed_version: base.version,
      severity_score: 7.5,
      severity_vector: null,
      epss: null,
      kev: 1,
      risk_score: 80,
      // High, not emergency: the from-findings test below drafts from emergency findings only.
      class: "high",
      status: "open",
      status_reason: null,
      status_by: null,
      status_expires_at: null,
      first_seen: "2026-11-20T00:00:00.000Z",
      due_at: null,
      updated_at: "2026-11-20T00:00:00.000Z",
    },
  ]);
}

async function outbox(store: Store, changeId: string, event: string) {
  return store.db
    .selectFrom("outbox")
    .selectAll()
    .where("subject_id", "=", changeId)
    .where("event", "=", event)
    .orderBy("created_at")
    .execute();
}

describe.each(DIALECTS)("change requests on %s", (dialect) => {
  let store: Awaited<ReturnType<typeof freshStore>>;
  let ctx: ServiceContext;
  let clock = new Date("2026-11-20T10:00:00Z");

  beforeAll(async () => {
    store = await freshStore(dialect);
    ctx = contextFor(store, () => clock, LOOPBACK_WEBHOOKS);
    await seedFleet(ctx);
  });
  afterAll(async () => store?.dispose());

  it("stores policies versioned: same content keeps its version, a change makes the next", async () => {
    const first = await applyPolicy(ctx, ALICE, TWO_APPROVERS, "two.yaml");
    expect(first).toMatchObject({ name: "two-approvers", version: 1, created: true, author: "user:alice" });
    // Same policy, other formatting and comments: the hash is over the parsed policy.
    const reformatted = `# comment\n${TWO_APPROVERS.replace("required: 2", "required:   2")}`;
    expect(await applyPolicy(ctx, ALICE, reformatted)).toMatchObject({
      version: 1,
      created: false,
      hash: first.hash,
    });
    const changed = await applyPolicy(
      ctx,
      ALICE,
      TWO_APPROVERS.replace("expiresAfter: 1h", "expiresAfter: 2h"),
    );
    expect(changed).toMatchObject({ version: 2, created: true });
    expect(changed.hash).not.toBe(first.hash);
    expect((await getPolicy(ctx, "two-approvers", 1)).content).toBe(TWO_APPROVERS);
    expect((await getPolicy(ctx, "two-approvers")).version).toBe(2);
    await expect(getPolicy(ctx, "two-approvers", 7)).rejects.toMatchObject({ code: "not_found" });
    // Back to version 2's content for the tests below.
    await applyPolicy(ctx, ALICE, TWO_APPROVERS);
    expect((await getPolicy(ctx, "two-approvers")).version).toBe(3);

    // Only an admin writes the rules: an operator or an approver is refused before anything is read.
    for (const who of [OPS, CAB1, VIEWER]) {
      await expect(
        applyPolicy(ctx, who, TWO_APPROVERS.replace("required: 2", "required: 0")),
      ).rejects.toMatchObject({
        code: "forbidden",
        reason: "policy.admin-required",
      });
    }
    expect((await getPolicy(ctx, "two-approvers")).version).toBe(3);

    const list = await listPolicies(ctx);
    expect(list.find((p) => p.name === "default")).toMatchObject({ version: 1, author: "system" });
    expect(list.find((p) => p.name === "two-approvers")).toMatchObject({ version: 3, versions: 3 });
    expect((await getPolicy(ctx, "default")).policy.approvals.required).toBe(1);
  });

  it("rejects a bad policy with file:line:col and stores nothing", async () => {
    const before = await counts(store);
    await expect(
      applyPolicy(ctx, ALICE, "name: bad\nrollout:\n  observe: 15x\n", "bad.yaml"),
    ).rejects.toMatchObject({ code: "validation", where: "bad.yaml:3:12" });
    await expect(applyPolicy(ctx, ALICE, "name: bad name\n")).rejects.toMatchObject({
      code: "validation",
      where: "<policy>:1:7",
    });
    expect(await counts(store)).toEqual(before);
  });

  it("rejects a change with a missing or bad field at its JSON pointer and stores nothing", async () => {
    const before = await counts(store);
    const cases: Array<[Record<string, unknown>, string, string]> = [
      [{ ...base, selector: "group=web", package: undefined }, "/package", "validation"],
      [{ ...base, selector: "group=web", version: "" }, "/version", "validation"],
      [{ ...base, selector: "group=web", justification: "  " }, "/justification", "validation"],
      [{ ...base }, "/selector", "validation"],
      [{ ...base, selector: "group in (web" }, "/selector", "validation"],
      [{ ...base, selector: "group=nothing-here" }, "/selector", "validation"],
      [
        { ...base, selector: "group=web", artifact: { name: "x.deb", sha256: "abc" } },
        "/artifact/sha256",
        "validation",
      ],
      [{ ...base, selector: "group=web", colour: "red" }, "/colour", "validation"],
      [{ ...base, selector: "group=web", policy: "no-such-policy" }, "/policy", "not_found"],
    ];
    for (const [input, where, code] of cases) {
      await expect(createChange(ctx, OPS, input), where).rejects.toMatchObject({ code, where });
    }
    expect(await counts(store)).toEqual(before);
  });

  it("walks the lifecycle; illegal transitions are conflicts naming the current state", async () => {
    const draft = await createChange(ctx, OPS, {
      ...base,
      selector: "environment=prod,group=web",
      artifact: { name: "openssl_3.0.15.deb", sha256: "a".repeat(64) },
      ticket: "CHG-1",
      advisories: ["CVE-2024-5535"],
      risk: "TLS restarts",
      rollback: "reinstall 3.0.14",
    });
    expect(draft.id).toMatch(/^chg-[0-9a-f]{8}$/);
    expect(draft).toMatchObject({
      state: "draft",
      policy: { name: "default", version: 1 },
      patch: { ticket: "CHG-1", artifact: { name: "openssl_3.0.15.deb" } },
      requester: "user:ops",
    });
    await expect(approveChange(ctx, CAB1, draft.id)).rejects.toMatchObject({
      code: "conflict",
      message: expect.stringContaining("is draft"),
    });
    // Planning a draft changes nothing.
    const before = await counts(store);
    const plan = await getChangePlan(ctx, draft.id);
    expect(plan.phases[0]).toMatchObject({ name: "canary", kind: "canary" });
    expect(plan.targets.map((t) => t.name).sort()).toEqual(["web-1", "web-2", "web-3", "web-4"]);
    expect(plan.targets.every((t) => t.fromVersion === OPENSSL_OLD && t.toVersion === base.version)).toBe(
      true,
    );
    expect(plan.patch).toMatchObject({ ecosystem: "Debian", package: "openssl", version: base.version });
    expect(await counts(store)).toEqual(before);
    expect((await readChange(ctx, draft.id)).plan).toBeNull();

    const submitted = await submitChange(ctx, OPS, draft.id, { reason: "ready" });
    expect(submitted).toMatchObject({
      state: "submitted",
      approvalRule: { required: 1, environments: ["prod"] },
    });
    await expect(submitChange(ctx, OPS, draft.id)).rejects.toMatchObject({
      code: "conflict",
      message: expect.stringContaining("is submitted"),
    });

    const scheduled = await approveChange(ctx, CAB1, draft.id, { reason: "CAB 2026-11-20" });
    expect(scheduled).toMatchObject({
      state: "scheduled",
      validApprovals: 1,
      scheduledStart: "2026-11-20T10:00:00.000Z",
      review: { state: "not-required" },
    });
    expect(scheduled.plan?.assets).toBe(4);
    const frozen = await getChangePlan(ctx, draft.id);
    expect(frozen.policy).toEqual(scheduled.policy);
    // The frozen plan does not move when the fleet does.
    await installed(ctx, "web-5", [["openssl", OPENSSL_OLD]], {
      environment: "prod",
      group: "web",
      region: "eu",
    });
    expect(await getChangePlan(ctx, draft.id)).toEqual(frozen);

    await expect(approveChange(ctx, CAB2, draft.id)).rejects.toMatchObject({ code: "conflict" });
    expect(await cancelChange(ctx, OPS, draft.id, { reason: "superseded" })).toMatchObject({
      state: "cancelled",
      stateReason: "superseded",
    });
    await expect(cancelChange(ctx, OPS, draft.id)).rejects.toMatchObject({
      code: "conflict",
      message: expect.stringContaining("is cancelled"),
    });

    const rejected = await createChange(ctx, OPS, { ...base, selector: "name=db-1" });
    await submitChange(ctx, OPS, rejected.id);
    expect(await rejectChange(ctx, CAB2, rejected.id, { reason: "not this week" })).toMatchObject({
      state: "rejected",
      approvals: [{ approver: "cab-2", decision: "reject", valid: false }],
    });
    await expect(cancelChange(ctx, OPS, rejected.id)).rejects.toMatchObject({ code: "conflict" });

    // Every transition is an audit event with who and why, and the chain verifies.
    const events = (await listAudit(store.db, { targetType: "change", targetId: draft.id })).events;
    expect(events.map((e) => [e.action, e.actor])).toEqual([
      ["change.created", "user:ops"],
      ["change.submitted", "user:ops"],
      ["change.approval-given", "user:cab-1"],
      ["change.approved", "user:cab-1"],
      ["change.scheduled", "user:cab-1"],
      ["change.cancelled", "user:ops"],
    ]);
    expect(events.find((e) => e.action === "change.cancelled")?.reason).toBe("superseded");
    expect(events.find((e) => e.action === "change.approval-given")?.reason).toBe("CAB 2026-11-20");
    expect((await verifyAuditChain(store.db)).ok).toBe(true);
  });

  it("separates duties: the requester cannot approve, roles outside the rule cannot, one person counts once", async () => {
    const change = await createChange(ctx, ALICE, {
      ...base,
      selector: "group=web,region=us",
      policy: "two-approvers",
    });
    await submitChange(ctx, ALICE, change.id);
    await expect(approveChange(ctx, ALICE, change.id)).rejects.toMatchObject({
      code: "forbidden",
      message: expect.stringContaining("separation of duties"),
    });
    await expect(approveChange(ctx, OPS, change.id)).rejects.toMatchObject({ code: "forbidden" });
    await expect(approveChange(ctx, VIEWER, change.id)).rejects.toMatchObject({ code: "forbidden" });
    expect(await approveChange(ctx, CAB1, change.id)).toMatchObject({
      state: "submitted",
      validApprovals: 1,
    });
    await expect(approveChange(ctx, CAB1, change.id)).rejects.toMatchObject({ code: "conflict" });
    // Another token with the same name is the same person.
    await expect(approveChange(ctx, { ...CAB1, id: "token-cab-1-laptop" }, change.id)).rejects.toMatchObject({
      code: "conflict",
    });
    const after = await readChange(ctx, change.id);
    expect(after).toMatchObject({ state: "submitted", validApprovals: 1 });
    expect(after.approvals).toHaveLength(1);
    expect(await approveChange(ctx, CAB2, change.id)).toMatchObject({
      state: "scheduled",
      validApprovals: 2,
    });
  });

  it("expired approvals do not count", async () => {
    clock = new Date("2026-11-21T09:00:00Z");
    const change = await createChange(ctx, OPS, { ...base, selector: "name=web-1", policy: "two-approvers" });
    await submitChange(ctx, OPS, change.id);
    await approveChange(ctx, CAB1, change.id);
    clock = new Date("2026-11-21T10:00:01Z"); // expiresAfter: 1h
    const one = await approveChange(ctx, CAB2, change.id);
    expect(one).toMatchObject({ state: "submitted", validApprovals: 1 });
    expect(one.approvals.map((a) => [a.approver, a.valid])).toEqual([
      ["cab-1", false],
      ["cab-2", true],
    ]);
    // The expired approver may approve again, and then there are two.
    const scheduled = await approveChange(ctx, CAB1, change.id);
    expect(scheduled).toMatchObject({ state: "scheduled", validApprovals: 2 });
    // The scheduled notification went to the policy's webhook, once.
    expect(await outbox(store, change.id, "scheduled")).toHaveLength(1);
  });

  it("an emergency backed by a known-exploited finding goes straight to scheduled; its review is pending until done", async () => {
    clock = new Date("2026-11-22T08:00:00Z");
    await seedKevFinding(store, "web-1");
    const change = await createChange(ctx, ALICE, {
      ...base,
      selector: "group=web,environment=prod",
      emergency: true,
      advisories: [KEV_CVE],
      justification: "actively exploited",
    });
    expect(change).toMatchObject({ class: "emergency", emergency: true });
    const scheduled = await submitChange(ctx, ALICE, change.id);
    expect(scheduled).toMatchObject({
      state: "scheduled",
      scheduledStart: "2026-11-22T08:00:00.000Z",
      approvals: [],
      review: { state: "pending", dueAt: "2026-11-23T08:00:00.000Z" },
    });
    expect(
      (await listChanges(ctx, { state: "scheduled" })).find((c) => c.id === change.id)?.review.state,
    ).toBe("pending");
    clock = new Date("2026-11-23T08:00:01Z");
    expect((await readChange(ctx, change.id)).review.state).toBe("overdue");
    await expect(reviewChange(ctx, CAB1, change.id, {})).rejects.toMatchObject({
      code: "validation",
      where: "/reason",
    });
    await expect(reviewChange(ctx, ALICE, change.id, { reason: "fine" })).rejects.toMatchObject({
      code: "forbidden",
    });
    await expect(reviewChange(ctx, OPS, change.id, { reason: "fine" })).rejects.toMatchObject({
      code: "forbidden",
    });
    const reviewed = await reviewChange(ctx, CAB1, change.id, {
      reason: "exploit confirmed, patch verified",
    });
    expect(reviewed.review).toMatchObject({
      state: "done",
      by: "cab-1",
      reason: "exploit confirmed, patch verified",
    });
    await expect(reviewChange(ctx, CAB2, change.id, { reason: "again" })).rejects.toMatchObject({
      code: "conflict",
    });
    const actions = (await listAudit(store.db, { targetType: "change", targetId: change.id })).events.map(
      (e) => e.action,
    );
    expect(actions).toEqual(["change.created", "change.submitted", "change.scheduled", "change.reviewed"]);
  });

  it("an emergency inside a freeze starts there only once an approver has approved it", async () => {
    await applyPolicy(ctx, ALICE, FROZEN);
    // Read as a stored version is: its loopback webhook was allowed when it was applied.
    const policy = loadPolicy(FROZEN, undefined, { webhooks: null });
    clock = new Date("2026-12-22T10:00:00Z");
    const change = await createChange(ctx, OPS, {
      ...base,
      selector: "name in (web-1,web-3)",
      emergency: true,
      advisories: [KEV_CVE],
      policy: "frozen",
    });
    const waiting = await submitChange(ctx, OPS, change.id);
    // Without an approver it starts when the freeze ends, and says why.
    expect(waiting).toMatchObject({
      state: "scheduled",
      scheduledStart: "2027-01-04T00:00:00.000Z",
      overrideApprover: null,
    });
    expect(waiting.plan?.reason).toContain("needs an approver");
    expect(activeFreezes(policy, new Date(waiting.scheduledStart ?? ""))).toEqual([]);
    const plan = await getChangePlan(ctx, change.id);
    for (const phase of plan.phases) expect(activeFreezes(policy, new Date(phase.start))).toEqual([]);

    await expect(approveChange(ctx, OPS, change.id)).rejects.toMatchObject({ code: "forbidden" });
    const started = await approveChange(ctx, CAB2, change.id, { reason: "override the freeze" });
    expect(started).toMatchObject({
      state: "scheduled",
      scheduledStart: "2026-12-22T10:00:00.000Z",
      overrideApprover: "cab-2",
      review: { state: "pending", dueAt: "2026-12-23T10:00:00.000Z" },
    });
    expect(activeFreezes(policy, clock)).toHaveLength(1);
    expect((await getChangePlan(ctx, change.id)).emergency).toBe(true);
    // Both starts were announced, each once.
    expect((await outbox(store, change.id, "scheduled")).length).toBe(2);
    const actions = (await listAudit(store.db, { targetType: "change", targetId: change.id })).events.map(
      (e) => e.action,
    );
    expect(actions).toEqual([
      "change.created",
      "change.submitted",
      "change.scheduled",
      "change.approval-given",
      "change.rescheduled",
    ]);
    // Once vouched for, another approval has nothing to do.
    await expect(approveChange(ctx, CAB1, change.id)).rejects.toMatchObject({ code: "conflict" });
  });

  it("a freeze that allows no emergency override holds even with an approver", async () => {
    await applyPolicy(ctx, ALICE, LOCKED);
    clock = new Date("2026-12-22T10:00:00Z");
    const change = await createChange(ctx, OPS, {
      ...base,
      selector: "name=web-2",
      emergency: true,
      policy: "locked",
    });
    await submitChange(ctx, OPS, change.id);
    const approved = await approveChange(ctx, CAB1, change.id);
    expect(approved).toMatchObject({ overrideApprover: "cab-1", scheduledStart: "2027-01-04T00:00:00.000Z" });
  });

  it("a change keeps the policy version it was submitted with when the policy changes", async () => {
    clock = new Date("2026-11-24T10:00:00Z");
    const pinnedText = "name: pinned\napprovals: {required: 1}\n";
    await applyPolicy(ctx, ALICE, pinnedText);
    const change = await createChange(ctx, OPS, { ...base, selector: "name=web-4", policy: "pinned" });
    await submitChange(ctx, OPS, change.id);
    const v2 = await applyPolicy(ctx, ALICE, "name: pinned\napprovals: {required: 3}\n");
    expect(v2.version).toBe(2);
    const scheduled = await approveChange(ctx, CAB1, change.id);
    expect(scheduled).toMatchObject({ state: "scheduled", policy: { name: "pinned", version: 1 } });
    expect((await getChangePlan(ctx, change.id)).policy.version).toBe(1);
    // NAME@VERSION pins an older version explicitly, but only an admin may: an operator could
    // otherwise go back to rules an admin has since tightened.
    expect(
      (await createChange(ctx, ALICE, { ...base, selector: "name=web-4", policy: "pinned@1" })).policy
        .version,
    ).toBe(1);
    await expect(
      createChange(ctx, OPS, { ...base, selector: "name=web-4", policy: "pinned@1" }),
    ).rejects.toMatchObject({ code: "forbidden", reason: "policy.superseded-version", where: "/policy" });
    expect(
      (await createChange(ctx, OPS, { ...base, selector: "name=web-4", policy: "pinned@2" })).policy.version,
    ).toBe(2);
    await expect(
      createChange(ctx, OPS, { ...base, selector: "name=web-4", policy: "pinned@9" }),
    ).rejects.toMatchObject({
      code: "not_found",
    });
  });

  it("drafts one change per package and fixed version from open findings", async () => {
    const ids = new Map(
      (await store.db.selectFrom("assets").select(["id", "name"]).execute()).map((a) => [a.name, a.id]),
    );
    const finding = (
      n: number,
      asset: string,
      pkg: string,
      fixed: string | null,
      vuln: string,
      cls = "emergency",
      status = "open",
    ) => ({
      id: `f-${n}`,
      asset_id: ids.get(asset) ?? "",
      ecosystem: "Debian:12",
      package_name: pkg,
      arch: "amd64",
      installed_version: "1.0-1",
      vuln_id: vuln,
      advisory_ids: JSON.stringify([`DSA-${n}`]),
      aliases: JSON.stringify([vuln]),
      fixed_version: fixed,
      severity_score: 9.8,
      severity_vector: null,
      epss: null,
      kev: 1,
      risk_score: 9.8,
      class: cls,
      status,
      status_reason: null,
      status_by: null,
      status_expires_at: null,
      first_seen: "2026-11-20T00:00:00.000Z",
      due_at: null,
      updated_at: "2026-11-20T00:00:00.000Z",
    });
    await insertFindings(store.db, [
      finding(1, "web-1", "openssl", "3.0.13-1~deb12u1", "CVE-2024-0001"),
      finding(2, "web-2", "openssl", "3.0.13-1~deb12u1", "CVE-2024-0001"),
      // A lower fix on web-1 is closed by the higher version it needs anyway.
      finding(3, "web-1", "openssl", "3.0.11-1~deb12u2", "CVE-2023-0002"),
      finding(4, "web-3", "curl", "7.88.1-10+deb12u5", "CVE-2024-0003"),
      finding(5, "web-4", "zlib", null, "CVE-2024-0004"),
      finding(6, "web-4", "curl", "7.88.1-10+deb12u5", "CVE-2024-0005", "routine"),
      finding(7, "web-2", "curl", "7.88.1-10+deb12u5", "CVE-2024-0006", "emergency", "fixed"),
      finding(8, "db-1", "openssl", "3.0.13-1~deb12u1", "CVE-2024-0001"),
    ]);
    const result = await draftFromFindings(ctx, OPS, { class: "emergency", selector: "group=web" });
    expect(
      result.created.map(({ package: p, version, assets, advisories }) => ({
        p,
        version,
        assets,
        advisories,
      })),
    ).toEqual([
      { p: "curl", version: "7.88.1-10+deb12u5", assets: ["web-3"], advisories: ["CVE-2024-0003"] },
      {
        p: "openssl",
        version: "3.0.13-1~deb12u1",
        assets: ["web-1", "web-2"],
        advisories: ["CVE-2023-0002", "CVE-2024-0001"],
      },
    ]);
    expect(result.skipped).toEqual([
      { package: "zlib", version: null, assets: ["web-4"], reason: "no fixed version is known" },
    ]);
    const openssl = await readChange(ctx, result.created[1]?.id ?? "");
    expect(openssl).toMatchObject({
      state: "draft",
      selector: "name in (web-1,web-2)",
      class: "emergency",
      emergency: true,
      patch: { package: "openssl", advisories: ["CVE-2023-0002", "CVE-2024-0001"] },
    });
    expect(
      (await getChangePlan(ctx, openssl.id)).phases.flatMap((p) => p.assets.map((a) => a.name)).sort(),
    ).toEqual(["web-1", "web-2"]);
    // Run again: the open drafts cover everything, nothing new.
    const again = await draftFromFindings(ctx, OPS, { class: "emergency", selector: "group=web" });
    expect(again.created).toEqual([]);
    expect(again.skipped.map((s) => s.reason)).toEqual([
      "no fixed version is known",
      `change ${result.created[0]?.id} covers it already`,
      `change ${openssl.id} covers it already`,
    ]);
    await expect(
      draftFromFindings(ctx, OPS, { class: "urgent", selector: "group=web" }),
    ).rejects.toMatchObject({
      code: "validation",
      where: "/class",
    });
  });

  it("through the API: only approvers approve; viewers and operators get 403", async () => {
    clock = new Date("2026-11-25T10:00:00Z");
    const tokens: Record<string, string> = {};
    for (const role of ["viewer", "operator", "approver", "admin"] as const) {
      tokens[role] = (await createApiToken(ctx, SYSTEM_ACTOR, { name: `api-${role}`, role })).token;
    }
    const app: FastifyInstance = await buildApp(ctx);
    try {
      const call = (role: string, method: "GET" | "POST", url: string, payload?: Record<string, unknown>) =>
        app.inject({
          method,
          url,
          headers: { authorization: `Bearer ${tokens[role]}` },
          ...(payload ? { payload } : {}),
        });
      const created = await call("operator", "POST", "/api/v1/changes", { ...base, selector: "name=web-3" });
      expect(created.statusCode, created.body).toBe(201);
      const id = (created.json() as { id: string }).id;
      const missing = await call("operator", "POST", "/api/v1/changes", {
        ...base,
        package: undefined,
        selector: "x",
      });
      expect(missing.statusCode).toBe(400);
      expect(missing.json()).toMatchObject({ error: { code: "validation", where: "/body/package" } });
      expect(
        (await call("viewer", "POST", "/api/v1/changes", { ...base, selector: "name=web-3" })).statusCode,
      ).toBe(403);
      expect((await call("operator", "POST", `/api/v1/changes/${id}/submit`)).statusCode).toBe(200);
      expect((await call("viewer", "POST", `/api/v1/changes/${id}/approve`)).statusCode).toBe(403);
      expect((await call("operator", "POST", `/api/v1/changes/${id}/approve`)).statusCode).toBe(403);
      const approved = await call("approver", "POST", `/api/v1/changes/${id}/approve`, { reason: "ok" });
      expect(approved.statusCode, approved.body).toBe(200);
      expect(approved.json()).toMatchObject({
        state: "scheduled",
        approvals: [{ approver: "api-approver" }],
      });
      const again = await call("approver", "POST", `/api/v1/changes/${id}/approve`);
      expect(again.statusCode).toBe(409);
      const plan = await call("viewer", "GET", `/api/v1/changes/${id}/plan`);
      expect(plan.statusCode, plan.body).toBe(200);
      expect(plan.json()).toMatchObject({
        version: 2,
        phases: [{ name: "canary", assets: [{ name: "web-3" }] }],
        targets: [{ name: "web-3", fromVersion: OPENSSL_OLD, toVersion: base.version }],
        summary: { toPatch: 1, skipped: 0, phases: 1, rings: 1 },
      });
      expect((await call("viewer", "GET", `/api/v1/changes/${id}`)).json()).toMatchObject({
        rolloutId: null,
        plan: { assets: 1, skipped: 0 },
      });
      expect((await call("viewer", "GET", "/api/v1/changes?state=scheduled")).statusCode).toBe(200);
      expect((await call("viewer", "GET", "/api/v1/changes?state=nope")).json()).toMatchObject({
        error: { code: "validation", where: "/query/state" },
      });
      expect((await call("viewer", "GET", "/api/v1/policies")).statusCode).toBe(200);
      const shown = await call("viewer", "GET", "/api/v1/policies/two-approvers?version=1");
      expect(shown.json()).toMatchObject({
        name: "two-approvers",
        version: 1,
        versions: [{ version: 3 }, {}, {}],
      });
      expect((await call("viewer", "POST", "/api/v1/policies", { content: "name: x\n" })).statusCode).toBe(
        403,
      );
      for (const role of ["operator", "approver"]) {
        const refused = await call(role, "POST", "/api/v1/policies", { content: "name: x\n" });
        expect(refused.statusCode, refused.body).toBe(403);
      }
      expect((await call("admin", "POST", "/api/v1/policies", { content: "name: x\n" })).statusCode).toBe(
        201,
      );
      expect((await call("admin", "POST", "/api/v1/policies", { content: "name: x\n" })).statusCode).toBe(
        200,
      );
    } finally {
      await app.close();
    }
    expect((await verifyAuditChain(store.db)).ok).toBe(true);
  });

  it("targets follow what is installed: up-to-date and not-installed assets are skipped with the reason", async () => {
    await installed(ctx, "edge-1", [["openssl", OPENSSL_OLD]], { group: "edge", region: "eu" });
    await installed(ctx, "edge-2", [["openssl", base.version]], { group: "edge", region: "eu" });
    // An epoch beats any version without one: newer than the change's.
    await installed(ctx, "edge-3", [["openssl", "1:1.0-1"]], { group: "edge", region: "us" });
    await installed(ctx, "edge-4", [["curl", "7.88.1-10+deb12u4"]], { group: "edge", region: "us" });
    // Two architectures: the lagging one decides.
    await importInventory(ctx, SYSTEM_ACTOR, {
      asset: "edge-2",
      content: `${dpkgStatus([["openssl", base.version]])}\nPackage: openssl\nStatus: install ok installed\nArchitecture: i386\nVersion: 3.0.9-1\n`,
      format: "dpkg",
      ecosystem: "Debian:12",
    });
    const draft = await createChange(ctx, OPS, { ...base, selector: "group=edge" });
    const plan = await getChangePlan(ctx, draft.id);
    expect(plan.targets.map((t) => [t.name, t.fromVersion, t.toVersion]).sort()).toEqual([
      ["edge-1", OPENSSL_OLD, base.version],
      ["edge-2", "3.0.9-1", base.version],
    ]);
    expect(plan.skipped.map((s) => [s.name, s.reason, s.installedVersion])).toEqual([
      ["edge-3", "up-to-date", "1:1.0-1"],
      ["edge-4", "not-installed", null],
    ]);
    expect(plan.summary).toMatchObject({ toPatch: 2, skipped: 2 });

    await submitChange(ctx, OPS, draft.id);
    const scheduled = await approveChange(ctx, CAB1, draft.id);
    expect(scheduled).toMatchObject({ state: "scheduled", plan: { assets: 2, skipped: 2 }, rolloutId: null });
    const stored = await store.db
      .selectFrom("change_requests")
      .select("plan")
      .where("id", "=", draft.id)
      .executeTakeFirstOrThrow();
    expect(JSON.parse(stored.plan ?? "{}")).toMatchObject({
      version: 2,
      summary: { toPatch: 2, skipped: 2 },
    });

    // Nothing to patch: approved, not scheduled, and the reason says why.
    const none = await createChange(ctx, OPS, { ...base, selector: "name in (edge-3,edge-4)" });
    await submitChange(ctx, OPS, none.id);
    const approved = await approveChange(ctx, CAB1, none.id);
    expect(approved).toMatchObject({ state: "approved", plan: { assets: 0, skipped: 2, start: null } });
    expect(approved.plan?.reason).toMatch(/^nothing to patch/);
    expect((await verifyAuditChain(store.db)).ok).toBe(true);
  });

  it("a version the package's ecosystem rejects is refused at /version and changes nothing", async () => {
    const before = await counts(store);
    await expect(
      createChange(ctx, OPS, { ...base, version: "3.0 beta", selector: "name=edge-1" }),
    ).rejects.toMatchObject({ code: "validation", reason: "change.invalid-version", where: "/version" });
    expect(await counts(store)).toEqual(before);
  });

  it("a version-1 plan stored before the upgrade reads as version 2, with the assets' ids looked up", async () => {
    const change = await createChange(ctx, OPS, { ...base, selector: "name in (web-1,web-2)" });
    const v1 = {
      version: 1,
      policy: change.policy,
      selector: change.selector,
      emergency: false,
      timezone: "UTC",
      createdAt: "2026-11-20T10:00:00Z",
      phases: [
        {
          name: "canary",
          kind: "canary",
          ring: null,
          assets: ["web-1"],
          batches: [["web-1"]],
          start: "2026-11-20T10:00:00Z",
          observeMs: 900_000,
          failureBudget: 0,
          gates: [
            "health checks pass on every asset of the phase",
            "observe 15m",
            "failures ≤ 0 (a failed canary stops the rollout)",
          ],
        },
        {
          name: "wave-1",
          kind: "wave",
          ring: null,
          assets: ["gone-1", "web-2"],
          batches: [["gone-1", "web-2"]],
          start: "2026-11-20T10:20:00Z",
          observeMs: 0,
          failureBudget: 0,
          gates: [
            "health checks pass on every asset of the phase",
            "failures ≤ 0",
            "final verification of all 3 assets",
          ],
        },
      ],
      totalFailureBudget: 0,
      schedule: { start: "2026-11-20T10:00:00Z", window: null, reason: "no windows: any time" },
      warnings: [],
    };
    // As a store written by the version-1 planner holds it.
    await store.db
      .updateTable("change_requests")
      .set({ plan: JSON.stringify(v1), state: "scheduled", scheduled_start: "2026-11-20T10:00:00.000Z" })
      .where("id", "=", change.id)
      .execute();
    const ids = new Map(
      (await store.db.selectFrom("assets").select(["id", "name"]).execute()).map((a) => [a.name, a.id]),
    );
    const plan = await getChangePlan(ctx, change.id);
    expect(plan).toMatchObject({
      version: 2,
      patch: { ecosystem: "Debian", package: "openssl", version: base.version, artifactSha256: null },
      rollback: "automatic",
      finalVerification: true,
      progressDeadlineMs: 2 * 3_600_000,
      summary: { toPatch: 3, skipped: 0, phases: 2, rings: 1, earliestStart: "2026-11-20T10:00:00Z" },
    });
    expect(plan.targets.map((t) => [t.id, t.name, t.fromVersion])).toEqual([
      [ids.get("web-1"), "web-1", OPENSSL_OLD],
      ["gone-1", "gone-1", ""],
      [ids.get("web-2"), "web-2", OPENSSL_OLD],
    ]);
    expect(plan.phases[0]?.gates).toEqual([
      { kind: "health" },
      { kind: "failure-budget", max: 0 },
      { kind: "progress-deadline", ms: 7_200_000 },
      { kind: "observation", ms: 900_000 },
    ]);
    expect(plan.phases[1]?.gates).toContainEqual({ kind: "final-verification" });
    expect(plan.warnings).toEqual([
      "version-1 plan: no asset id known for 1 asset(s) (gone-1); their names stand in for ids",
    ]);
    expect((await readChange(ctx, change.id)).plan).toMatchObject({ assets: 3, phases: [{}, {}] });
    // The API serves it in the version-2 shape its schema promises.
    const admin = (await createApiToken(ctx, SYSTEM_ACTOR, { name: "api-v1-reader", role: "viewer" })).token;
    const app = await buildApp(ctx);
    try {
      const res = await app.inject({
        method: "GET",
        url: `/api/v1/changes/${change.id}/plan`,
        headers: { authorization: `Bearer ${admin}` },
      });
      expect(res.statusCode, res.body).toBe(200);
      expect(res.json()).toMatchObject({ version: 2, targets: [{ name: "web-1" }, {}, {}] });
    } finally {
      await app.close();
    }
  });
});

describe.each(DIALECTS)("starting-soon reminders on %s", (dialect) => {
  let store: Awaited<ReturnType<typeof freshStore>>;
  let ctx: ServiceContext;
  let clock = new Date("2027-02-01T00:00:00Z");

  beforeAll(async () => {
    store = await freshStore(dialect);
    ctx = contextFor(store, () => clock, LOOPBACK_WEBHOOKS);
    await seedFleet(ctx);
  });
  afterAll(async () => store?.dispose());

  it("enqueues starting-soon once, at the policy's lead time before the start", async () => {
    await applyPolicy(
      ctx,
      ALICE,
      `name: windowed
maintenanceWindows:
  - {name: sunday, start: "2027-02-07T02:00", duration: 4h, timezone: UTC}
notifications:
  leadTime: 30m
  webhooks:
    - {name: ops-hook, url: "http://127.0.0.1:9/hook"}
`,
    );
    const change = await createChange(ctx, OPS, { ...base, selector: "name=web-1", policy: "windowed" });
    await submitChange(ctx, OPS, change.id);
    expect(await approveChange(ctx, CAB1, change.id)).toMatchObject({
      state: "scheduled",
      scheduledStart: "2027-02-07T02:00:00.000Z",
    });
    expect(await enqueueStartingSoon(ctx)).toBe(0);
    clock = new Date("2027-02-07T01:29:59Z");
    expect(await enqueueStartingSoon(ctx)).toBe(0);
    clock = new Date("2027-02-07T01:30:00Z");
    expect(await enqueueStartingSoon(ctx)).toBe(1);
    expect(await enqueueStartingSoon(ctx)).toBe(0);
    clock = new Date("2027-02-07T02:10:00Z");
    expect(await enqueueStartingSoon(ctx)).toBe(0);
    expect(await outbox(store, change.id, "starting-soon")).toHaveLength(1);
    expect(
      (await listAudit(store.db, { targetId: change.id, action: "change.starting-soon" })).events,
    ).toHaveLength(1);
    expect((await verifyAuditChain(store.db)).ok).toBe(true);
  });
});
