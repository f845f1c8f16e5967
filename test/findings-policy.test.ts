// The policy that classifies findings and dates them: chosen with `policy use`, not by the name
// `default`; an immediate SLA's grace; the migration that keeps a store's `default`; apply's diff.
import type { FastifyInstance } from "fastify";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { afterPolicyVersion, useFindingsPolicy } from "../src/advisories/findings/choose-policy.js";
import type { Finding } from "../src/advisories/findings/finding.js";
import { listFindings } from "../src/advisories/findings/query.js";
import { REFRESH_RISK } from "../src/advisories/ingest/matcher-hooks.js";
import { createApiToken } from "../src/auth/tokens.js";
import { isAppError } from "../src/domain/errors.js";
import type { Role } from "../src/domain/roles.js";
import { SYSTEM_ACTOR } from "../src/domain/roles.js";
import { importInventory } from "../src/inventory/import.js";
import { approveProposal, proposePolicy } from "../src/policy/proposals.js";
import { applyPolicy, listPolicies } from "../src/policy/store.js";
import { buildApp } from "../src/server/app.js";
import type { ServiceContext } from "../src/service/context.js";
import { MIGRATIONS } from "../src/store/migrations/index.js";
import { migrateToLatest } from "../src/store/store.js";
import { drainOwedWork } from "../src/work/drain.js";
import { userActor } from "./helpers/actors.js";
import { debianAdvisory, insertAdvisories } from "./helpers/advisories.js";
import { contextFor, DIALECTS, freshStore } from "./helpers/stores.js";

const HOUR = 3_600_000;

const person = (role: Role) => userActor(`${role}-1`, role);
const ADMIN = person("admin");
const OPERATOR = person("operator");

const CURL = "7.88.1-10+deb12u4";
const ADVISORIES = [
  // CVSS 9.8 on an internet-facing host: emergency under the built-in policy.
  debianAdvisory({
    id: "DSA-5525-1",
    cve: "CVE-2023-38545",
    source: "curl",
    fixed: "7.88.1-10+deb12u5",
    cvss: "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H",
  }),
];

const strict = (grace: string, high = "1d") =>
  `name: strict\nclassification:\n  immediateGrace: ${grace}\n  sla: {high: ${high}}\n`;

describe.each(DIALECTS)("the findings policy on %s", (dialect) => {
  let store: Awaited<ReturnType<typeof freshStore>>;
  let ctx: ServiceContext;
  const T0 = new Date("2026-11-20T10:00:00.000Z");
  let clock = T0;
  const at = (ms: number) => {
    clock = new Date(T0.getTime() + ms);
  };
  const emergency = async (): Promise<Finding> => {
    const found = (await listFindings(ctx, { status: "all", limit: 100, class: "emergency" })).findings;
    expect(found).toHaveLength(1);
    return found[0] as Finding;
  };
  const overdue = async () => (await listFindings(ctx, { overdue: true, limit: 100 })).findings.length;
  const selected = async (action = "policy.selected") =>
    store.db.selectFrom("audit_events").selectAll().where("action", "=", action).orderBy("seq").execute();

  beforeAll(async () => {
    store = await freshStore(dialect);
    ctx = contextFor(store, () => clock);
    await insertAdvisories(store.db, ADVISORIES);
    await importInventory(ctx, OPERATOR, {
      asset: "web-1",
      content: `Package: curl\nStatus: install ok installed\nArchitecture: amd64\nVersion: ${CURL}\n`,
      format: "dpkg",
      ecosystem: "Debian:12",
      placement: { labels: { exposure: "internet" } },
    });
  });
  afterAll(async () => store?.dispose());

  it("without a choice the built-in policy governs: an immediate SLA is due 4h after first seen", async () => {
    expect((await emergency()).dueAt).toBe(new Date(T0.getTime() + 4 * HOUR).toISOString());
    // New is not late: --overdue finds it only after the grace.
    at(3 * HOUR);
    expect(await overdue()).toBe(0);
    at(5 * HOUR);
    expect(await overdue()).toBe(1);
    at(0);
  });

  it("a stored policy named default does not govern findings by its name", async () => {
    await applyPolicy(ctx, ADMIN, "name: default\nclassification:\n  immediateGrace: 1h\n", "d.yaml");
    expect((await emergency()).dueAt).toBe(new Date(T0.getTime() + 4 * HOUR).toISOString());
    expect((await listPolicies(ctx)).filter((p) => p.findings)).toEqual([]);
  });

  it("only an admin chooses one; a refused or unknown choice changes nothing", async () => {
    await applyPolicy(ctx, ADMIN, strict("30m"), "strict.yaml");
    const refused = await useFindingsPolicy(ctx, OPERATOR, "strict").catch((e: unknown) => e);
    expect(isAppError(refused) && refused.reason).toBe("policy.admin-required");
    const unknown = await useFindingsPolicy(ctx, ADMIN, "nope").catch((e: unknown) => e);
    expect(isAppError(unknown) && unknown.code).toBe("not_found");
    expect(await selected()).toHaveLength(0);
    expect((await store.db.selectFrom("policy_selections").selectAll().execute()).length).toBe(0);
    expect((await emergency()).dueAt).toBe(new Date(T0.getTime() + 4 * HOUR).toISOString());
  });

  it("policy use chooses it, audited, and re-dates the findings in place", async () => {
    at(HOUR);
    const result = await useFindingsPolicy(ctx, ADMIN, "strict");
    expect(result).toMatchObject({ name: "strict", version: 1, previous: null, changed: true });
    const events = await selected();
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({ actor: "user:admin-1", target_type: "policy" });
    expect(JSON.parse(events[0]?.data ?? "{}")).toMatchObject({
      purpose: "findings",
      name: "strict",
      version: 1,
      previous: null,
      principal: ADMIN.principal,
    });
    // Due dates count from first seen, under the new grace.
    const f = await emergency();
    expect(f.firstSeen).toBe(T0.toISOString());
    expect(f.dueAt).toBe(new Date(T0.getTime() + 30 * 60_000).toISOString());
    expect(f.overdue).toBe(true);
    expect((await listPolicies(ctx)).filter((p) => p.findings).map((p) => p.name)).toEqual(["strict"]);
    // Choosing it again changes nothing and audits nothing.
    expect((await useFindingsPolicy(ctx, ADMIN, "strict")).changed).toBe(false);
    expect(await selected()).toHaveLength(1);
  });

  it("a new version of the chosen policy re-dates findings; another name's does not", async () => {
    const applied = await applyPolicy(ctx, ADMIN, strict("2h"), "strict.yaml", afterPolicyVersion);
    expect(applied).toMatchObject({ name: "strict", version: 2, created: true });
    expect(applied.diff.sections.map((s) => s.section)).toEqual(["classification"]);
    expect(applied.diff.sections[0]?.changes).toEqual([
      { path: "immediateGrace", before: "30m", after: "2h" },
    ]);
    expect(applied.diff.unified).toContain("-  immediateGrace: 30m\n+  immediateGrace: 2h\n");
    // The re-dating was owed in the apply's transaction; the work runs it.
    await drainOwedWork(ctx, [REFRESH_RISK]);
    expect((await emergency()).dueAt).toBe(new Date(T0.getTime() + 2 * HOUR).toISOString());

    await applyPolicy(
      ctx,
      ADMIN,
      "name: default\nclassification:\n  immediateGrace: 9h\n",
      "d.yaml",
      afterPolicyVersion,
    );
    await drainOwedWork(ctx, [REFRESH_RISK]);
    expect((await emergency()).dueAt).toBe(new Date(T0.getTime() + 2 * HOUR).toISOString());
  });

  it("switching back to default says what it replaced", async () => {
    const result = await useFindingsPolicy(ctx, ADMIN, "default");
    expect(result).toMatchObject({ name: "default", previous: "strict", changed: true });
    expect((await emergency()).dueAt).toBe(new Date(T0.getTime() + 9 * HOUR).toISOString());
  });

  it("an approved proposal of the chosen policy re-dates findings as an apply does", async () => {
    const proposal = await proposePolicy(ctx, OPERATOR, {
      content: "name: default\nclassification:\n  immediateGrace: 6h\n",
      reason: "more time to react",
    });
    await approveProposal(ctx, person("approver"), proposal.id, {}, afterPolicyVersion);
    await drainOwedWork(ctx, [REFRESH_RISK]);
    expect((await emergency()).dueAt).toBe(new Date(T0.getTime() + 6 * HOUR).toISOString());
  });

  it("the API chooses and shows it, admins only", async () => {
    const admin = (await createApiToken(ctx, SYSTEM_ACTOR, { name: "a", role: "admin" })).token;
    const operator = (await createApiToken(ctx, SYSTEM_ACTOR, { name: "o", role: "operator" })).token;
    const app: FastifyInstance = await buildApp(ctx);
    try {
      const call = (token: string, method: "GET" | "PUT", body?: Record<string, unknown>) =>
        app.inject({
          method,
          url: "/api/v1/findings-policy",
          headers: { authorization: `Bearer ${token}` },
          ...(body ? { payload: body } : {}),
        });
      expect((await call(operator, "PUT", { name: "strict" })).statusCode).toBe(403);
      const missing = await call(admin, "PUT", { name: "nope" });
      expect(missing.statusCode).toBe(404);
      expect(missing.json()).toMatchObject({ error: { code: "not_found", where: "/body/name" } });
      const put = await call(admin, "PUT", { name: "strict" });
      expect(put.statusCode, put.body).toBe(200);
      expect(put.json()).toMatchObject({ name: "strict", version: 2, previous: "default", changed: true });
      const shown = await call(operator, "GET");
      expect(shown.json()).toMatchObject({ name: "strict", version: 2, chosenBy: expect.any(String) });
      const listed = await app.inject({
        url: "/api/v1/policies",
        headers: { authorization: `Bearer ${operator}` },
      });
      const rows = (listed.json() as { items: Array<{ name: string; findings: boolean }> }).items;
      expect(rows.filter((p) => p.findings).map((p) => p.name)).toEqual(["strict"]);
    } finally {
      await app.close();
    }
  });
});

describe.each(DIALECTS)("the migration that made the choice explicit, on %s", (dialect) => {
  const before = Object.fromEntries(Object.entries(MIGRATIONS).filter(([name]) => name < "0017"));

  it.each([
    [true, "default"],
    [false, undefined],
  ])("a store with a policy named default (%s) keeps it for findings", async (hasDefault, chosen) => {
    const store = await freshStore(dialect, { migrate: false });
    try {
      await migrateToLatest(store, before);
      if (hasDefault) {
        await store.db
          .insertInto("policies")
          .values({
            id: "p1",
            name: "default",
            version: 1,
            content_hash: "h",
            content: "name: default\n",
            author: "system",
            created_at: "2026-01-01T00:00:00.000Z",
          })
          .execute();
      }
      await migrateToLatest(store);
      const rows = await store.db.selectFrom("policy_selections").selectAll().execute();
      expect(rows.map((r) => r.name)).toEqual(chosen === undefined ? [] : [chosen]);
      if (chosen !== undefined) expect(rows[0]).toMatchObject({ purpose: "findings", chosen_by: "system" });
    } finally {
      await store.dispose();
    }
  });
});
