import type { FastifyInstance } from "fastify";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { listAudit, verifyAuditChain } from "../src/audit/log.js";
import { createApiToken } from "../src/auth/tokens.js";
import { approveChange } from "../src/changes/approvals.js";
import { draftFromFindings } from "../src/changes/from-findings.js";
import { readChange } from "../src/changes/queries.js";
import { createChange, submitChange } from "../src/changes/service.js";
import { SYSTEM_ACTOR } from "../src/domain/roles.js";
import { createAsset } from "../src/inventory/assets.js";
import { approveProposal, listProposals, proposePolicy, rejectProposal } from "../src/policy/proposals.js";
import { applyPolicy, getPolicy } from "../src/policy/store.js";
import { buildApp } from "../src/server/app.js";
import type { ServiceContext } from "../src/service/context.js";
import type { Store } from "../src/store/store.js";
import { userActor } from "./helpers/actors.js";
import { installed } from "./helpers/assets.js";
import { insertFindings } from "./helpers/findings.js";
import { contextFor, DIALECTS, freshStore } from "./helpers/stores.js";

const user = userActor;
const OPS = user("ops", "operator");
const ADMIN = user("alice", "admin");
const CAB = user("cab-1", "approver");

// What the reproduced attack stores: the built-in policy's name with every approval switched off.
const RELAXED_DEFAULT = `name: default
approvals:
  required: 0
  separationOfDuties: false
  rules: []
`;
const change = { package: "openssl", version: "3.0.15-1~deb12u1", justification: "CVE fixes" };
const emergency = { ...change, emergency: true, policy: "sop", justification: "exploit in the wild" };

interface FindingSeed {
  asset: string;
  pkg?: string;
  vuln: string;
  kev?: 0 | 1;
  cls?: "emergency" | "high" | "routine";
  status?: string;
}

let seeded = 0;
/** A finding as the matcher would have stored it. */
async function seedFinding(store: Store, f: FindingSeed): Promise<string> {
  const asset = await store.db
    .selectFrom("assets")
    .select("id")
    .where("name", "=", f.asset)
    .executeTakeFirstOrThrow();
  const id = `f-seed-${++seeded}`;
  await insertFindings(store.db, [
    {
      id,
      asset_id: asset.id,
      ecosystem: "Debian:12",
      package_name: f.pkg ?? change.package,
      arch: "amd64",
      installed_version: "3.0.11-1~deb12u2",
      vuln_id: f.vuln,
      advisory_ids: JSON.stringify([`DSA-${seeded}`]),
      aliases: JSON.stringify([f.vuln, `DSA-${seeded}`]),
      fixed_version: change.version,
      severity_score: 7.5,
      severity_vector: null,
      epss: null,
      kev: f.kev ?? 0,
      risk_score: 70,
      class: f.cls ?? "high",
      status: f.status ?? "open",
      status_reason: null,
      status_by: null,
      status_expires_at: null,
      first_seen: "2026-11-20T00:00:00.000Z",
      due_at: null,
      updated_at: "2026-11-20T00:00:00.000Z",
    },
  ]);
  return id;
}

describe.each(DIALECTS)("who may change the rules, on %s", (dialect) => {
  let store: Awaited<ReturnType<typeof freshStore>>;
  let ctx: ServiceContext;

  beforeAll(async () => {
    store = await freshStore(dialect);
    ctx = contextFor(store, () => new Date("2026-11-20T10:00:00Z"));
    for (const name of ["web-1", "web-2", "web-3", "web-4", "db-1"]) {
      await createAsset(ctx, SYSTEM_ACTOR, name, { environment: "prod", group: name.slice(0, -2) });
      // Below the changes' versions: every matched asset is a target.
      await installed(ctx, name, [
        ["openssl", "3.0.11-1~deb12u2"],
        ["curl", "7.88.1-10+deb12u4"],
        ["bash", "3.0.11-1~deb12u2"],
      ]);
    }
    // The built-in rules (emergency fast path, 24 h review) under a name of its own, stored by an admin.
    await applyPolicy(ctx, ADMIN, "name: sop\n");
  });
  afterAll(async () => store?.dispose());

  it("an operator cannot store a relaxed `default` and then schedule a change with no approval", async () => {
    await expect(applyPolicy(ctx, OPS, RELAXED_DEFAULT, "relaxed.yaml")).rejects.toMatchObject({
      code: "forbidden",
      reason: "policy.admin-required",
    });
    expect((await getPolicy(ctx, "default")).version).toBe(1);
    const draft = await createChange(ctx, OPS, { ...change, selector: "name=web-1" });
    const submitted = await submitChange(ctx, OPS, draft.id);
    expect(submitted).toMatchObject({ state: "submitted", approvalRule: { required: 1 } });
    expect(submitted.scheduledStart).toBeNull();
  });

  it("through the API the same attack gets 403 and stores nothing", async () => {
    const token = (await createApiToken(ctx, SYSTEM_ACTOR, { name: "api-ops", role: "operator" })).token;
    const app: FastifyInstance = await buildApp(ctx);
    try {
      const before = await store.db.selectFrom("policies").select("id").execute();
      const r = await app.inject({
        method: "POST",
        url: "/api/v1/policies",
        headers: { authorization: `Bearer ${token}` },
        payload: { content: RELAXED_DEFAULT },
      });
      expect(r.statusCode, r.body).toBe(403);
      expect(await store.db.selectFrom("policies").select("id").execute()).toEqual(before);
    } finally {
      await app.close();
    }
  });

  it("an admin's relaxed policy never applies to a change submitted before it", async () => {
    const draft = await createChange(ctx, OPS, { ...change, selector: "name=web-2" });
    const submitted = await submitChange(ctx, OPS, draft.id);
    expect(submitted).toMatchObject({
      state: "submitted",
      policy: { name: "default", version: 1 },
      approvalRule: { required: 1, separationOfDuties: true },
    });
    const relaxed = await applyPolicy(ctx, ADMIN, RELAXED_DEFAULT, "relaxed.yaml");
    expect(relaxed).toMatchObject({ name: "default", version: 2, created: true });

    // Still waiting for its approval, under the rule frozen when it was submitted.
    const still = await readChange(ctx, draft.id);
    expect(still).toMatchObject({
      state: "submitted",
      policy: { version: 1 },
      approvalRule: { required: 1 },
    });
    // The requester still cannot approve it: separation of duties was frozen too.
    await expect(approveChange(ctx, { ...OPS, role: "admin" }, draft.id)).rejects.toMatchObject({
      code: "forbidden",
      reason: "approval.separation-of-duties",
    });
    const approved = await approveChange(ctx, CAB, draft.id);
    expect(approved).toMatchObject({ state: "scheduled", policy: { version: 1 }, validApprovals: 1 });

    // A change created now pins the new version, and the admin's decision applies to it.
    const later = await createChange(ctx, OPS, { ...change, selector: "name=web-2" });
    expect(later.policy.version).toBe(2);
    expect((await submitChange(ctx, OPS, later.id)).state).toBe("scheduled");

    const applied = (await listAudit(store.db, { action: "policy.applied" })).events
      .map((e) => ({ actor: e.actor, ...(e.data as { name: string; version: number }) }))
      .filter((e) => e.name === "default");
    expect(applied.map((e) => [e.actor, e.version])).toEqual([
      ["system", 1],
      ["user:alice", 2],
    ]);
    expect((await verifyAuditChain(store.db)).ok).toBe(true);
  });

  it("an operator cannot declare an emergency alone: without evidence an approver confirms it", async () => {
    const draft = await createChange(ctx, OPS, { ...emergency, selector: "name=web-3" });
    const submitted = await submitChange(ctx, OPS, draft.id);
    // The reproduced hole: this went straight to scheduled on the operator's word.
    expect(submitted).toMatchObject({
      state: "submitted",
      scheduledStart: null,
      stateReason: expect.stringContaining("an approver must confirm it"),
      approvalRule: {
        required: 1,
        fromRoles: ["approver", "admin"],
        separationOfDuties: true,
        emergency: { evidence: [], confirmationRequired: true },
      },
    });
    await expect(approveChange(ctx, OPS, draft.id)).rejects.toMatchObject({ code: "forbidden" });
    // The requester's own admin token is the same principal: it cannot confirm.
    await expect(
      approveChange(ctx, { ...OPS, id: "token-ops-admin", role: "admin" }, draft.id),
    ).rejects.toMatchObject({ reason: "approval.separation-of-duties" });

    const confirmed = await approveChange(ctx, CAB, draft.id, { reason: "exploit confirmed by the SOC" });
    expect(confirmed).toMatchObject({
      state: "scheduled",
      scheduledStart: "2026-11-20T10:00:00.000Z",
      overrideApprover: "cab-1",
      // The post-hoc review stays due as on the fast path.
      review: { state: "pending", dueAt: "2026-11-21T10:00:00.000Z" },
    });
    const given = (await listAudit(store.db, { targetId: draft.id, action: "change.approval-given" })).events;
    expect(given).toHaveLength(1);
    expect(given[0]).toMatchObject({
      actor: "user:cab-1",
      reason: "exploit confirmed by the SOC",
      data: { confirmsEmergency: true, approver: "cab-1" },
    });

    // The API shows what the emergency waited for.
    const viewer = (await createApiToken(ctx, SYSTEM_ACTOR, { name: "api-viewer", role: "viewer" })).token;
    const app: FastifyInstance = await buildApp(ctx);
    try {
      const shown = await app.inject({
        url: `/api/v1/changes/${draft.id}`,
        headers: { authorization: `Bearer ${viewer}` },
      });
      expect(shown.statusCode, shown.body).toBe(200);
      expect(shown.json()).toMatchObject({
        approvalRule: { emergency: { evidence: [], confirmationRequired: true } },
      });
    } finally {
      await app.close();
    }
  });

  it("an emergency backed by a known-exploited finding on a target takes the fast path, recorded", async () => {
    const finding = await seedFinding(store, { asset: "web-3", vuln: "CVE-2024-9143", kev: 1 });
    const draft = await createChange(ctx, OPS, {
      ...emergency,
      selector: "group=web",
      // By alias: the advisory id names the same finding.
      advisories: [`DSA-${seeded}`],
    });
    const scheduled = await submitChange(ctx, OPS, draft.id);
    expect(scheduled).toMatchObject({
      state: "scheduled",
      approvals: [],
      review: { state: "pending" },
      approvalRule: {
        required: 0,
        emergency: {
          confirmationRequired: false,
          evidence: [
            { finding, vulnId: "CVE-2024-9143", asset: "web-3", knownExploited: true, class: "high" },
          ],
        },
      },
    });
    const submitted = (await listAudit(store.db, { targetId: draft.id, action: "change.submitted" })).events;
    expect(submitted[0]?.data).toMatchObject({
      approvalRule: { emergency: { evidence: [{ finding }] } },
    });
  });

  it("evidence counts only when open, on a target, for the package, named, and exploited or emergency", async () => {
    const cases: Array<[string, FindingSeed, string]> = [
      ["on another asset", { asset: "db-1", vuln: "CVE-2025-0001", kev: 1 }, "name=web-4"],
      ["of another package", { asset: "web-4", pkg: "curl", vuln: "CVE-2025-0002", kev: 1 }, "name=web-4"],
      ["suppressed", { asset: "web-4", vuln: "CVE-2025-0003", kev: 1, status: "not-affected" }, "name=web-4"],
      ["fixed", { asset: "web-4", vuln: "CVE-2025-0004", cls: "emergency", status: "fixed" }, "name=web-4"],
      ["neither exploited nor emergency", { asset: "web-4", vuln: "CVE-2025-0005" }, "name=web-4"],
    ];
    for (const [label, seed, selector] of cases) {
      await seedFinding(store, seed);
      const draft = await createChange(ctx, OPS, { ...emergency, selector, advisories: [seed.vuln] });
      expect(await submitChange(ctx, OPS, draft.id), label).toMatchObject({
        state: "submitted",
        approvalRule: { required: 1, emergency: { confirmationRequired: true } },
      });
    }
    // A known-exploited finding the change does not name is no evidence either.
    await seedFinding(store, { asset: "web-4", vuln: "CVE-2025-0006", kev: 1 });
    const unnamed = await createChange(ctx, OPS, {
      ...emergency,
      selector: "name=web-4",
      advisories: ["CVE-2025-0007"],
    });
    expect((await submitChange(ctx, OPS, unnamed.id)).state).toBe("submitted");
  });

  it("drafts from emergency-class findings carry their evidence", async () => {
    await seedFinding(store, { asset: "db-1", pkg: "bash", vuln: "CVE-2025-0100", cls: "emergency" });
    const { created } = await draftFromFindings(ctx, OPS, {
      class: "emergency",
      selector: "name=db-1",
      policy: "sop",
    });
    expect(created.map((c) => c.package)).toEqual(["bash"]);
    const scheduled = await submitChange(ctx, OPS, created[0]?.id ?? "");
    expect(scheduled).toMatchObject({
      state: "scheduled",
      approvalRule: {
        emergency: { confirmationRequired: false, evidence: [{ asset: "db-1", class: "emergency" }] },
      },
    });
    expect((await verifyAuditChain(store.db)).ok).toBe(true);
  });

  it("a draft made before an admin tightens the policy is submitted under the tightened version", async () => {
    const draft = await createChange(ctx, OPS, { ...change, selector: "name=web-3" });
    const tightened = await applyPolicy(ctx, ADMIN, "name: default\napprovals: {required: 3}\n");
    expect(draft.policy.version).toBe(tightened.version - 1);
    expect(await submitChange(ctx, OPS, draft.id)).toMatchObject({
      state: "submitted",
      policy: { version: tightened.version },
      approvalRule: { required: 3 },
    });
    const submitted = (await listAudit(store.db, { action: "change.submitted" })).events.find(
      (e) => e.targetId === draft.id,
    );
    expect(submitted?.data).toMatchObject({
      repinned: { from: tightened.version - 1, to: tightened.version },
    });
  });

  it("after an admin tightens a policy, an operator cannot pin the laxer version it replaced", async () => {
    const tightened = await applyPolicy(ctx, ADMIN, "name: default\napprovals: {required: 2}\n");
    const lax = `default@${tightened.version - 1}`;
    await expect(
      createChange(ctx, OPS, { ...change, selector: "name=web-1", policy: lax }),
    ).rejects.toMatchObject({ code: "forbidden", reason: "policy.superseded-version", where: "/policy" });
    await expect(
      draftFromFindings(ctx, OPS, { class: "high", selector: "name=web-1", policy: lax }),
    ).rejects.toMatchObject({ reason: "policy.superseded-version" });
    const current = await createChange(ctx, OPS, { ...change, selector: "name=web-1" });
    expect(await submitChange(ctx, OPS, current.id)).toMatchObject({
      state: "submitted",
      policy: { version: tightened.version },
      approvalRule: { required: 2 },
    });
  });
});

describe.each(DIALECTS)("policy proposals on %s", (dialect) => {
  let store: Awaited<ReturnType<typeof freshStore>>;
  let ctx: ServiceContext;
  const CAB2 = user("cab-2", "approver");
  const VIEWER = user("watcher", "viewer");

  beforeAll(async () => {
    store = await freshStore(dialect);
    ctx = contextFor(store, () => new Date("2026-11-20T10:00:00Z"));
    await createAsset(ctx, SYSTEM_ACTOR, "web-1", { environment: "prod", group: "web" });
    await installed(ctx, "web-1", [["openssl", "3.0.11-1~deb12u2"]]);
  });
  afterAll(async () => store?.dispose());

  it("an operator's proposal is stored only once a different approver approves it", async () => {
    const proposal = await proposePolicy(ctx, OPS, {
      content: RELAXED_DEFAULT,
      file: "relaxed.yaml",
      reason: "approvals slow us down",
    });
    expect(proposal).toMatchObject({
      name: "default",
      state: "pending",
      baseVersion: 1,
      proposer: "user:ops",
    });
    // Pending, it changes nothing: a change submitted now still needs its approval.
    expect((await getPolicy(ctx, "default")).version).toBe(1);
    const draft = await createChange(ctx, OPS, { ...change, selector: "name=web-1" });
    expect((await submitChange(ctx, OPS, draft.id)).state).toBe("submitted");

    await expect(approveProposal(ctx, OPS, proposal.id)).rejects.toMatchObject({ code: "forbidden" });
    // The proposer's own admin token is the same principal.
    await expect(
      approveProposal(ctx, { ...OPS, id: "token-ops-admin", role: "admin" }, proposal.id),
    ).rejects.toMatchObject({ reason: "approval.separation-of-duties" });
    await expect(
      rejectProposal(ctx, { ...OPS, role: "admin" }, proposal.id, { reason: "no" }),
    ).rejects.toMatchObject({
      reason: "approval.separation-of-duties",
    });

    const approved = await approveProposal(ctx, CAB, proposal.id, { reason: "CAB 2026-11-20" });
    expect(approved).toMatchObject({ state: "approved", version: 2, decidedBy: "user:cab-1" });
    expect(await getPolicy(ctx, "default")).toMatchObject({ version: 2, author: "user:ops" });
    await expect(approveProposal(ctx, CAB2, proposal.id)).rejects.toMatchObject({
      code: "conflict",
      reason: "policy.proposal-decided",
    });
    // The change submitted before keeps the rule frozen then.
    expect(await readChange(ctx, draft.id)).toMatchObject({
      state: "submitted",
      approvalRule: { required: 1 },
    });

    const events = (await listAudit(store.db, { targetId: proposal.id })).events;
    expect(events.map((e) => [e.action, e.actor])).toEqual([
      ["policy.proposed", "user:ops"],
      ["policy.proposal-approved", "user:cab-1"],
    ]);
    const applied = (await listAudit(store.db, { action: "policy.applied" })).events.at(-1);
    expect(applied).toMatchObject({
      actor: "user:cab-1",
      data: { name: "default", version: 2, proposal: proposal.id, proposedBy: "user:ops" },
    });
  });

  it("refuses proposals that are stale, unchanged, rejected, or from roles that do not operate", async () => {
    const first = await proposePolicy(ctx, OPS, { content: "name: team\n", reason: "a team policy" });
    const second = await proposePolicy(ctx, OPS, {
      content: "name: team\nrollout: {observe: 5m}\n",
      reason: "b",
    });
    expect(first.baseVersion).toBeNull();
    await approveProposal(ctx, CAB, first.id);
    // The second was made against no version; `team` has one now, so it must be made again.
    await expect(approveProposal(ctx, CAB2, second.id)).rejects.toMatchObject({
      code: "conflict",
      reason: "policy.proposal-stale",
    });
    await expect(proposePolicy(ctx, OPS, { content: "name: team\n", reason: "again" })).rejects.toMatchObject(
      {
        reason: "policy.proposal-unchanged",
      },
    );
    await expect(rejectProposal(ctx, CAB, second.id, {})).rejects.toMatchObject({
      code: "validation",
      where: "/reason",
    });
    expect(await rejectProposal(ctx, CAB, second.id, { reason: "make it again" })).toMatchObject({
      state: "rejected",
      decisionReason: "make it again",
    });
    await expect(approveProposal(ctx, CAB2, second.id)).rejects.toMatchObject({
      reason: "policy.proposal-decided",
    });
    for (const who of [VIEWER, CAB]) {
      await expect(proposePolicy(ctx, who, { content: "name: x\n", reason: "r" })).rejects.toMatchObject({
        code: "forbidden",
      });
    }
    await expect(
      proposePolicy(ctx, OPS, {
        content: "name: bad\nrollout: {observe: soon}\n",
        file: "bad.yaml",
        reason: "r",
      }),
    ).rejects.toMatchObject({
      code: "validation",
      where: expect.stringMatching(/^bad\.yaml:2:/),
    });
    await expect(proposePolicy(ctx, OPS, { content: "name: x\n", reason: " " })).rejects.toMatchObject({
      where: "/reason",
    });
    expect((await listProposals(ctx, "pending")).map((p) => p.id)).toEqual([]);
    expect((await listProposals(ctx)).map((p) => p.state).sort()).toEqual([
      "approved",
      "approved",
      "rejected",
    ]);
    expect((await verifyAuditChain(store.db)).ok).toBe(true);
  });
});
