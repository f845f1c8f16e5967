import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { FastifyInstance } from "fastify";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { explainFinding } from "../src/advisories/findings/explain.js";
import type { Finding } from "../src/advisories/findings/finding.js";
import { getFinding, listFindings } from "../src/advisories/findings/query.js";
import {
  type FindingsDelta,
  refreshRiskForCves,
  rematchAll,
  rematchPackages,
} from "../src/advisories/findings/rematch.js";
import {
  acceptRisk,
  markNotAffected,
  type NotAffectedInput,
  reopen,
} from "../src/advisories/findings/status.js";
import { readStoredFindings, storedFindingFromRow } from "../src/advisories/findings/stored-findings.js";
import { getVulnerability } from "../src/advisories/findings/vulnerability.js";
import { verifyAuditChain } from "../src/audit/log.js";
import { bootstrapAdminToken, createApiToken } from "../src/auth/tokens.js";
import type { Role } from "../src/domain/roles.js";
import { SYSTEM_ACTOR } from "../src/domain/roles.js";
import type { Placement } from "../src/inventory/assets.js";
import { importInventory } from "../src/inventory/import.js";
import { buildApp } from "../src/server/app.js";
import { type RunningServer, startServer } from "../src/server/start.js";
import type { ServiceContext } from "../src/service/context.js";
import { userActor } from "./helpers/actors.js";
import { debianAdvisory, insertAdvisories, insertEpss, insertKev } from "./helpers/advisories.js";
import { runCli } from "./helpers/cli.js";
import { contextFor, DIALECTS, freshStore } from "./helpers/stores.js";

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

const person = (role: Role) => userActor(`${role}-1`, role);
const OPERATOR = person("operator");
const APPROVER = person("approver");
const VIEWER = person("viewer");
const ADMIN = person("admin");

/** A dpkg status file: [package, version, source?] per paragraph. */
function dpkg(packages: ReadonlyArray<readonly [string, string, string?]>): string {
  return packages
    .map(
      ([name, version, source]) =>
        `Package: ${name}\nStatus: install ok installed\nArchitecture: amd64\n` +
        `${source ? `Source: ${source}\n` : ""}Version: ${version}\n`,
    )
    .join("\n");
}

const OPENSSL_OLD = "3.0.11-1~deb12u1";
const OPENSSL_FIX = "3.0.13-1~deb12u1";
const base = (curl = "7.88.1-10+deb12u4", openssl = OPENSSL_OLD) =>
  [
    ["libssl3", openssl, "openssl"],
    ["openssl", openssl],
    ["curl", curl],
    ["libcurl4", curl, "curl"],
    ["zlib1g", "1:1.2.13.dfsg-1", "zlib"],
    ["bash", "5.2.15-2+b2", "bash (5.2.15-2)"],
  ] as const;

const ADVISORIES = [
  debianAdvisory({
    id: "DSA-5532-1",
    cve: "CVE-2023-5678",
    source: "openssl",
    fixed: OPENSSL_FIX,
    cvss: "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:H",
  }),
  debianAdvisory({
    id: "DSA-5525-1",
    cve: "CVE-2023-38545",
    source: "curl",
    fixed: "7.88.1-10+deb12u5",
    cvss: "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H",
  }),
  debianAdvisory({ id: "DEBIAN-CVE-2023-45853", cve: "CVE-2023-45853", source: "zlib" }),
  // Another release: never matches Debian 12 packages.
  debianAdvisory({ id: "DSA-5000-1", cve: "CVE-2023-0001", source: "openssl", release: "11", fixed: "9.9" }),
];

describe.each(DIALECTS)("findings on %s", (dialect) => {
  let store: Awaited<ReturnType<typeof freshStore>>;
  let ctx: ServiceContext;
  const T0 = new Date("2026-11-20T10:00:00.000Z");
  let clock = T0;
  const at = (ms: number) => {
    clock = new Date(T0.getTime() + ms);
    return clock;
  };

  const importHost = (
    asset: string,
    packages: ReadonlyArray<readonly [string, string, string?]>,
    placement: Placement = {},
  ) =>
    importInventory(ctx, OPERATOR, {
      asset,
      content: dpkg(packages),
      format: "dpkg",
      ecosystem: "Debian:12",
      placement,
    });

  const all = async (query: Parameters<typeof listFindings>[1] = {}): Promise<Finding[]> =>
    (await listFindings(ctx, { status: "all", limit: 1000, ...query })).findings;
  const one = async (asset: string, pkg: string, vuln: string): Promise<Finding> => {
    const found = (await all({ asset, vuln })).filter((f) => f.package === pkg);
    expect(found, `${asset} ${pkg} ${vuln}`).toHaveLength(1);
    return found[0] as Finding;
  };
  const auditActions = async (action: string) =>
    store.db.selectFrom("audit_events").selectAll().where("action", "=", action).orderBy("seq").execute();

  beforeAll(async () => {
    store = await freshStore(dialect);
    ctx = contextFor(store, () => clock);
    await insertAdvisories(store.db, ADVISORIES);
  });
  afterAll(async () => store?.dispose());

  it("an inventory import creates findings with fixed version, score, class and due date", async () => {
    await importHost("web-1", base(), { environment: "prod", labels: { exposure: "internet" } });
    await importHost("db-1", base(), { environment: "prod", criticality: 5, labels: { data: "pii" } });
    await importHost("dev-1", base("7.88.1-10+deb12u5"), { environment: "dev", criticality: 1 });

    const findings = await all();
    expect(findings).toHaveLength(13);
    expect(findings.every((f) => f.status === "open" && f.firstSeen === T0.toISOString())).toBe(true);
    expect(findings.some((f) => f.vulnId === "CVE-2023-0001")).toBe(false);
    expect(findings.some((f) => f.package === "bash")).toBe(false);

    const ssl = await one("web-1", "libssl3", "CVE-2023-5678");
    expect(ssl).toMatchObject({
      ecosystem: "Debian:12",
      arch: "amd64",
      installedVersion: OPENSSL_OLD,
      fixedVersion: OPENSSL_FIX,
      advisoryIds: ["DSA-5532-1"],
      aliases: ["CVE-2023-5678", "DSA-5532-1"],
      severity: { score: 7.5 },
      kev: false,
      riskScore: 86.2,
      class: "high",
      dueAt: new Date(T0.getTime() + 7 * DAY).toISOString(),
    });
    expect(await one("web-1", "libcurl4", "CVE-2023-38545")).toMatchObject({
      fixedVersion: "7.88.1-10+deb12u5",
      riskScore: 100,
      class: "emergency",
      dueAt: new Date(T0.getTime() + 4 * HOUR).toISOString(),
    });
    expect(await one("web-1", "zlib1g", "CVE-2023-45853")).toMatchObject({
      fixedVersion: null,
      severity: { score: null },
      riskScore: 57.5,
      class: "routine",
      dueAt: new Date(T0.getTime() + 30 * DAY).toISOString(),
    });
    expect(await one("db-1", "openssl", "CVE-2023-5678")).toMatchObject({
      riskScore: 99,
      class: "emergency",
    });
    expect(await one("dev-1", "openssl", "CVE-2023-5678")).toMatchObject({ riskScore: 60, class: "routine" });
    // dev-1 has curl at the fixed version already.
    expect((await all({ asset: "dev-1", vuln: "CVE-2023-38545" })).length).toBe(0);

    const events = await auditActions("findings.changed");
    expect(events).toHaveLength(3);
    expect(JSON.parse(events[0]?.data ?? "{}")).toMatchObject({ trigger: "inventory", opened: 5, fixed: 0 });
  });

  it("lists by class, status, selector, vulnerability alias and asset, highest risk first, in pages", async () => {
    const open = (await listFindings(ctx, { limit: 1000 })).findings;
    expect(open).toHaveLength(13);
    for (let i = 1; i < open.length; i++) {
      expect((open[i - 1] as Finding).riskScore).toBeGreaterThanOrEqual((open[i] as Finding).riskScore);
    }
    expect((await all({ class: "emergency" })).map((f) => f.asset.name).sort()).toEqual([
      "db-1",
      "db-1",
      "db-1",
      "db-1",
      "web-1",
      "web-1",
    ]);
    expect((await all({ selector: "exposure=internet" })).every((f) => f.asset.name === "web-1")).toBe(true);
    expect(await all({ selector: "environment=prod,criticality=5" })).toHaveLength(5);
    const byAdvisory = await all({ vuln: "DSA-5525-1" });
    expect(byAdvisory.map((f) => f.vulnId)).toEqual([
      "CVE-2023-38545",
      "CVE-2023-38545",
      "CVE-2023-38545",
      "CVE-2023-38545",
    ]);

    const paged: Finding[] = [];
    let after: string | undefined;
    do {
      const page = await listFindings(ctx, { limit: 4, ...(after ? { after } : {}) });
      expect(page.findings.length).toBeLessThanOrEqual(4);
      paged.push(...page.findings);
      after = page.next ?? undefined;
    } while (after);
    expect(paged.map((f) => f.id)).toEqual(open.map((f) => f.id));

    await expect(listFindings(ctx, { selector: "group in (web" })).rejects.toMatchObject({
      code: "validation",
      where: "offset 13",
    });
    await expect(listFindings(ctx, { asset: "nope" })).rejects.toMatchObject({ code: "not_found" });
    await expect(listFindings(ctx, { after: "garbage" })).rejects.toMatchObject({
      code: "validation",
      where: "/query/cursor",
    });
  });

  it("overdue follows the clock: emergency after its 4h grace, high after its 7 days, routine after 30", async () => {
    expect(await listFindings(ctx, { overdue: true })).toEqual({ findings: [], next: null });
    // An immediate SLA's grace keeps new emergencies apart from late ones.
    at(HOUR);
    expect((await listFindings(ctx, { overdue: true })).findings).toEqual([]);
    at(5 * HOUR);
    const soon = (await listFindings(ctx, { overdue: true, limit: 1000 })).findings;
    expect(soon.length).toBe(6);
    expect(soon.every((f) => f.class === "emergency" && f.overdue)).toBe(true);
    at(8 * DAY);
    const later = (await listFindings(ctx, { overdue: true, limit: 1000 })).findings;
    expect(new Set(later.map((f) => f.class))).toEqual(new Set(["emergency", "high"]));
    at(2 * HOUR);
  });

  it("an upgrade past the fix marks the finding fixed and touches only that asset's changed packages", async () => {
    const before = new Map((await all()).map((f) => [f.id, f.updatedAt]));
    const t1 = at(3 * HOUR).toISOString();
    await importHost("web-1", base(undefined, OPENSSL_FIX));

    const after = await all();
    const changed = after.filter((f) => f.updatedAt !== before.get(f.id));
    expect(changed.map((f) => `${f.asset.name} ${f.package} ${f.status}`).sort()).toEqual([
      "web-1 libssl3 fixed",
      "web-1 openssl fixed",
    ]);
    expect(changed.every((f) => f.updatedAt === t1 && f.statusReason === "no longer affected")).toBe(true);
    // Fixed findings are kept for history but leave the default (unresolved) list.
    expect((await listFindings(ctx, { asset: "web-1", limit: 100 })).findings).toHaveLength(3);
    const events = await auditActions("findings.changed");
    expect(JSON.parse(events.at(-1)?.data ?? "{}")).toMatchObject({
      trigger: "inventory",
      fixed: 2,
      opened: 0,
    });
  });

  it("rematchPackages re-matches only the packages with those names", async () => {
    await insertAdvisories(store.db, [
      debianAdvisory({
        id: "DSA-6001-1",
        cve: "CVE-2024-0002",
        source: "zlib",
        fixed: "1:1.2.13.dfsg-2",
        cvss: "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:L/I:N/A:N",
      }),
      debianAdvisory({ id: "DSA-6002-1", cve: "CVE-2024-0003", source: "curl", fixed: "7.88.1-10+deb12u6" }),
    ]);
    const before = new Map((await all()).map((f) => [f.id, f.updatedAt]));
    at(4 * HOUR);
    const delta = await rematchPackages(ctx, [{ ecosystem: "Debian", name: "zlib" }]);
    expect(delta).toMatchObject({ opened: 3, updated: 0, fixed: 0, reopened: 0, unchanged: 3 });

    const after = await all();
    expect(
      after
        .filter((f) => f.vulnId === "CVE-2024-0002")
        .map((f) => f.asset.name)
        .sort(),
    ).toEqual(["db-1", "dev-1", "web-1"]);
    expect(after.some((f) => f.vulnId === "CVE-2024-0003")).toBe(false);
    for (const f of after.filter((x) => before.has(x.id))) expect(f.updatedAt).toBe(before.get(f.id));
  });

  it("a KEV refresh makes a finding emergency; a full re-match then adds what was missed, and a second changes nothing", async () => {
    await insertKev(store.db, ["CVE-2023-5678"]);
    await insertEpss(store.db, { "CVE-2023-5678": 0.02 });
    at(5 * HOUR);
    expect(await refreshRiskForCves(ctx, ["CVE-2023-5678"])).toBe(4);
    expect(await one("dev-1", "libssl3", "CVE-2023-5678")).toMatchObject({
      kev: true,
      epss: expect.closeTo(0.02, 6),
      riskScore: 78.4,
      class: "emergency",
    });
    expect(await refreshRiskForCves(ctx, ["CVE-2023-5678"])).toBe(0);

    const progress: Array<[number, number]> = [];
    const full = await rematchAll(ctx, { onProgress: (done, total) => progress.push([done, total]) });
    // The curl advisory of the previous test was stored but not re-matched until now.
    expect(full).toMatchObject({ opened: 6, updated: 0, fixed: 0, reopened: 0 });
    expect(progress.at(-1)?.[0]).toBe(progress.at(-1)?.[1]);
    const eventsBefore = (await auditActions("findings.changed")).length;
    expect(await rematchAll(ctx)).toMatchObject({
      opened: 0,
      updated: 0,
      fixed: 0,
      reopened: 0,
      unchanged: 20,
    });
    expect(await auditActions("findings.changed")).toHaveLength(eventsBefore);
  });

  it("a withdrawn advisory's findings become fixed", async () => {
    await insertAdvisories(store.db, [
      debianAdvisory({
        id: "DSA-6002-1",
        cve: "CVE-2024-0003",
        source: "curl",
        fixed: "7.88.1-10+deb12u6",
        withdrawn: "2026-11-20T12:00:00Z",
      }),
    ]);
    at(6 * HOUR);
    const delta = await rematchPackages(ctx, [{ ecosystem: "Debian:12", name: "curl" }]);
    expect(delta).toMatchObject({ fixed: 6, opened: 0 });
    expect((await all({ vuln: "CVE-2024-0003" })).every((f) => f.status === "fixed")).toBe(true);
  });

  it("accepting a risk needs an approver, a reason and an expiry within a year; it is audited and expires back to open", async () => {
    const finding = await one("db-1", "zlib1g", "CVE-2023-45853");
    await expect(
      acceptRisk(ctx, OPERATOR, finding.id, { reason: "legacy", expiresAt: "30d" }),
    ).rejects.toMatchObject({ code: "forbidden" });
    await expect(
      acceptRisk(ctx, APPROVER, finding.id, { reason: " ", expiresAt: "30d" }),
    ).rejects.toMatchObject({
      code: "validation",
      where: "/reason",
    });
    await expect(
      acceptRisk(ctx, APPROVER, finding.id, { reason: "legacy", expiresAt: "400d" }),
    ).rejects.toMatchObject({ code: "validation", where: "/expiresAt" });
    await expect(
      acceptRisk(ctx, APPROVER, finding.id, { reason: "legacy", expiresAt: "2020-01-01" }),
    ).rejects.toMatchObject({ code: "validation", where: "/expiresAt", reason: "findings.date-in-past" });
    await expect(acceptRisk(ctx, APPROVER, finding.id, { reason: "legacy" })).rejects.toMatchObject({
      code: "validation",
      where: "/expiresAt",
      reason: "findings.expiry-required",
    });
    await expect(
      acceptRisk(ctx, APPROVER, finding.id, { reason: "legacy", reviewBy: "2020-01-01" }),
    ).rejects.toMatchObject({ code: "validation", where: "/reviewBy", reason: "findings.date-in-past" });
    await expect(
      acceptRisk(ctx, APPROVER, "no-such-id", { reason: "x", expiresAt: "30d" }),
    ).rejects.toMatchObject({
      code: "not_found",
    });
    expect((await getFinding(ctx, finding.id)).status).toBe("open");

    const now = at(7 * HOUR);
    const accepted = await acceptRisk(ctx, APPROVER, finding.id, {
      reason: "zlib is only used to read trusted files here",
      expiresAt: "30d",
    });
    expect(accepted).toMatchObject({
      status: "accepted-risk",
      statusBy: "user:approver-1",
      statusReason: "zlib is only used to read trusted files here",
      statusExpiresAt: new Date(now.getTime() + 30 * DAY).toISOString(),
    });
    const event = (await auditActions("finding.risk-accepted")).at(-1);
    expect(event).toMatchObject({ target_id: finding.id, actor: "user:approver-1" });
    expect(JSON.parse(event?.data ?? "{}")).toMatchObject({ from: "open", to: "accepted-risk" });

    at(20 * DAY);
    await rematchAll(ctx);
    expect((await getFinding(ctx, finding.id)).status).toBe("accepted-risk");
    at(40 * DAY);
    expect(await rematchAll(ctx)).toMatchObject({ reopened: 1 });
    expect(await getFinding(ctx, finding.id)).toMatchObject({
      status: "open",
      statusReason: `risk acceptance expired at ${new Date(now.getTime() + 30 * DAY).toISOString()}`,
      firstSeen: T0.toISOString(),
    });
  });

  it("marking a finding not affected needs an approver, a statement and an expiry or review date; it opens again after it", async () => {
    const finding = await one("db-1", "curl", "CVE-2023-38545");
    const vex = {
      justification: "vulnerable_code_not_in_execute_path",
      statement: "curl runs only against an internal mirror without SOCKS5",
    } as const;
    // The reproduced hole: an operator alone, without a statement or a date, hid the finding for good.
    await expect(
      markNotAffected(ctx, OPERATOR, finding.id, {
        justification: "component_not_present",
      } as NotAffectedInput),
    ).rejects.toMatchObject({ code: "forbidden", reason: "findings.suppression-forbidden" });
    await expect(
      markNotAffected(ctx, OPERATOR, finding.id, { ...vex, reviewBy: "90d" }),
    ).rejects.toMatchObject({
      code: "forbidden",
    });
    const refused: Array<[Record<string, unknown>, string, string]> = [
      [{ justification: vex.justification, reviewBy: "90d" }, "/statement", "findings.statement-required"],
      [{ ...vex, statement: "  ", reviewBy: "90d" }, "/statement", "findings.statement-required"],
      [{ ...vex }, "/expiresAt", "findings.expiry-required"],
      [{ ...vex, reviewBy: "2020-01-01" }, "/reviewBy", "findings.date-in-past"],
      [{ ...vex, expiresAt: "0s" }, "/expiresAt", "findings.date-in-past"],
      [{ ...vex, reviewBy: "400d" }, "/reviewBy", "findings.date-too-far"],
      [{ ...vex, expiresAt: "30d", reviewBy: "30d" }, "/reviewBy", "validation"],
      [{ ...vex, justification: "because", reviewBy: "90d" }, "/justification", "validation"],
    ];
    for (const [input, where, reason] of refused) {
      await expect(
        markNotAffected(ctx, APPROVER, finding.id, input as NotAffectedInput),
        JSON.stringify(input),
      ).rejects.toMatchObject({ code: "validation", where, reason });
    }
    expect((await getFinding(ctx, finding.id)).status).toBe("open");

    const marked = await markNotAffected(ctx, APPROVER, finding.id, { ...vex, reviewBy: "2d" });
    expect(marked).toMatchObject({
      status: "not-affected",
      statusBy: "user:approver-1",
      statusReason:
        "vulnerable_code_not_in_execute_path: curl runs only against an internal mirror without SOCKS5",
      statusExpiresAt: new Date(T0.getTime() + 42 * DAY).toISOString(),
    });
    const event = (await auditActions("finding.not-affected")).at(-1);
    expect(event).toMatchObject({ target_id: finding.id, actor: "user:approver-1" });
    expect(JSON.parse(event?.data ?? "{}")).toMatchObject({
      from: "open",
      to: "not-affected",
      statement: vex.statement,
      reviewBy: new Date(T0.getTime() + 42 * DAY).toISOString(),
      principal: "approver-1",
    });
    at(41 * DAY);
    await rematchAll(ctx);
    expect((await getFinding(ctx, finding.id)).status).toBe("not-affected");

    await expect(reopen(ctx, VIEWER, finding.id, "review")).rejects.toMatchObject({ code: "forbidden" });
    await expect(reopen(ctx, OPERATOR, finding.id, "")).rejects.toMatchObject({
      code: "validation",
      where: "/reason",
    });
    expect(await reopen(ctx, OPERATOR, finding.id, "the mirror now uses SOCKS5")).toMatchObject({
      status: "open",
    });
    await expect(reopen(ctx, OPERATOR, finding.id, "again")).rejects.toMatchObject({ code: "conflict" });

    // Marked again until an expiry, it opens by itself once the expiry has passed.
    const until = new Date(T0.getTime() + 41 * DAY + 12 * HOUR).toISOString();
    await markNotAffected(ctx, ADMIN, finding.id, { ...vex, expiresAt: until });
    at(41 * DAY + 13 * HOUR);
    expect(await rematchAll(ctx)).toMatchObject({ reopened: 1 });
    expect(await getFinding(ctx, finding.id)).toMatchObject({
      status: "open",
      statusReason: `not-affected statement lapsed at ${until}: review it`,
      statusExpiresAt: null,
    });
    const fixed = await one("web-1", "libssl3", "CVE-2023-5678");
    await expect(acceptRisk(ctx, APPROVER, fixed.id, { reason: "x", expiresAt: "1d" })).rejects.toMatchObject(
      { code: "conflict" },
    );
  });

  it("explains a score factor by factor, the effects summing to it", async () => {
    for (const [asset, pkg, vuln] of [
      ["web-1", "zlib1g", "CVE-2023-45853"],
      ["db-1", "libcurl4", "CVE-2023-38545"],
      ["dev-1", "openssl", "CVE-2023-5678"],
    ] as const) {
      const finding = await one(asset, pkg, vuln);
      const explained = await explainFinding(ctx, finding.id);
      const sum = explained.factors.reduce((s, f) => s + f.effect, 0);
      expect(sum).toBeCloseTo(explained.score, 6);
      expect(explained.score).toBe(finding.riskScore);
      expect(explained.class).toBe(finding.class);
      expect(explained.due.at).toBe(finding.dueAt);
    }
    const zlib = await explainFinding(ctx, (await one("web-1", "zlib1g", "CVE-2023-45853")).id);
    expect(zlib.factors.map((f) => f.name)).toEqual([
      "severity",
      "epss",
      "kev",
      "criticality",
      "exposure",
      "data",
    ]);
    expect(zlib.due.rule).toContain("the policy has no maintenance windows");
    const dev = await explainFinding(ctx, (await one("dev-1", "openssl", "CVE-2023-5678")).id);
    expect(dev.classRule).toContain("known exploited");
    await expect(explainFinding(ctx, "nope")).rejects.toMatchObject({ code: "not_found" });
  });

  it("shows which assets have a vulnerability, by CVE or by any advisory id", async () => {
    const byCve = await getVulnerability(ctx, "CVE-2023-5678");
    expect(byCve.advisories.map((a) => a.id)).toEqual(["DSA-5532-1"]);
    expect(byCve.kev).toMatchObject({ cve: "CVE-2023-5678" });
    expect(byCve.epss).toMatchObject({ cve: "CVE-2023-5678" });
    expect(byCve.counts).toMatchObject({ assets: 2, open: 4, fixed: 2 });
    expect(byCve.items.slice(0, 4).every((f) => f.status === "open")).toBe(true);
    expect(byCve.next).toBeNull();
    const byAdvisory = await getVulnerability(ctx, "DSA-5532-1");
    expect(byAdvisory.items.map((f) => f.id)).toEqual(byCve.items.map((f) => f.id));
    // Paged one at a time: the same findings in the same order, the counts over all of them each time.
    const paged: string[] = [];
    let cursor: string | undefined;
    do {
      const page = await getVulnerability(ctx, "CVE-2023-5678", { limit: 1, ...(cursor ? { cursor } : {}) });
      expect(page.items).toHaveLength(1);
      expect(page.counts).toEqual(byCve.counts);
      paged.push(...page.items.map((f) => f.id));
      cursor = page.next ?? undefined;
    } while (cursor);
    expect(paged).toEqual(byCve.items.map((f) => f.id));
    await expect(getVulnerability(ctx, "CVE-2023-5678", { cursor: "bogus" })).rejects.toMatchObject({
      reason: "request.invalid-cursor",
    });
    await expect(getVulnerability(ctx, "CVE-1999-0001")).rejects.toMatchObject({ code: "not_found" });
  });

  it("the store folds findings for comparison exactly as the re-match does", async () => {
    const rows = await store.db.selectFrom("findings").selectAll().orderBy("id").execute();
    expect(rows.length).toBeGreaterThan(20);
    const folded = await readStoredFindings(store.db);
    expect(folded).toEqual(rows.map(storedFindingFromRow));
    const oneAsset = rows.filter((r) => r.asset_id === rows[0]?.asset_id);
    expect(await readStoredFindings(store.db, [oneAsset[0]?.asset_id ?? ""])).toEqual(
      expect.arrayContaining(oneAsset.map(storedFindingFromRow)),
    );
  });

  it("removing a package fixes its findings; the audit chain verifies after all of it", async () => {
    at(42 * DAY);
    await importHost(
      "dev-1",
      base("7.88.1-10+deb12u5").filter(([name]) => name !== "zlib1g"),
    );
    expect(
      (await all({ asset: "dev-1" }))
        .filter((f) => f.package === "zlib1g")
        .every((f) => f.status === "fixed"),
    ).toBe(true);
    const chain = await verifyAuditChain(store.db);
    expect(chain.ok).toBe(true);
    expect(chain.checked).toBeGreaterThan(10);
    // The system re-matches; people's decisions are recorded under their own names.
    const actors = new Set((await auditActions("findings.changed")).map((e) => e.actor));
    expect(actors).toEqual(new Set([SYSTEM_ACTOR.name]));
  });
  it("a full re-match into an empty findings table writes, in SQL, the findings the row-by-row path wrote", async () => {
    // What matters of a finding, with its due date as a delay from first seen (first seen is now).
    const essence = (f: Finding) => ({
      asset: f.asset.name,
      package: f.package,
      arch: f.arch,
      installedVersion: f.installedVersion,
      vulnId: f.vulnId,
      advisoryIds: f.advisoryIds,
      aliases: f.aliases,
      fixedVersion: f.fixedVersion,
      severity: f.severity,
      epss: f.epss,
      kev: f.kev,
      riskScore: f.riskScore,
      class: f.class,
      dueAfterMs: f.dueAt === null ? null : Date.parse(f.dueAt) - Date.parse(f.firstSeen),
    });
    const key = (f: ReturnType<typeof essence>) => `${f.asset} ${f.package} ${f.arch} ${f.vulnId}`;
    // Fixed findings are history: a fresh match cannot know them. Decisions (accepted risk, not
    // affected) are people's, so a fresh match writes those findings open.
    const before = (await all())
      .filter((f) => f.status !== "fixed")
      .map(essence)
      .sort((a, b) => key(a).localeCompare(key(b)));
    expect(before.length).toBeGreaterThan(10);
    await store.db.deleteFrom("finding_rows").execute();
    const now = at(30 * 24 * HOUR);
    expect(await rematchAll(ctx)).toMatchObject({ opened: before.length, updated: 0, fixed: 0 });
    const after = await all();
    expect(after.every((f) => f.firstSeen === now.toISOString() && f.status === "open")).toBe(true);
    expect(after.map(essence).sort((a, b) => key(a).localeCompare(key(b)))).toEqual(before);
    expect(await rematchAll(ctx)).toMatchObject({
      opened: 0,
      updated: 0,
      fixed: 0,
      unchanged: before.length,
    });
  });
});

describe("findings over HTTP", () => {
  let store: Awaited<ReturnType<typeof freshStore>>;
  let app: FastifyInstance;
  const tokens = new Map<Role, string>();
  const call = (role: Role, method: "GET" | "POST", url: string, payload?: Record<string, unknown>) =>
    app.inject({
      method,
      url,
      headers: { authorization: `Bearer ${tokens.get(role)}` },
      ...(payload ? { payload } : {}),
    });

  beforeAll(async () => {
    store = await freshStore("sqlite");
    const ctx = contextFor(store, () => new Date("2026-11-20T10:00:00Z"));
    tokens.set("admin", (await bootstrapAdminToken(ctx))?.token ?? "");
    for (const role of ["viewer", "operator", "approver"] as const) {
      tokens.set(role, (await createApiToken(ctx, SYSTEM_ACTOR, { name: role, role })).token);
    }
    await insertAdvisories(store.db, ADVISORIES);
    await importInventory(ctx, OPERATOR, {
      asset: "web-1",
      content: dpkg(base()),
      format: "dpkg",
      ecosystem: "Debian:12",
      placement: { labels: { exposure: "internet" } },
    });
    app = await buildApp(ctx);
  });
  afterAll(async () => {
    await app?.close();
    await store?.dispose();
  });

  it("lists, filters, explains and shows a vulnerability for readers", async () => {
    const list = await call("viewer", "GET", "/api/v1/findings?class=high&limit=10");
    expect(list.statusCode, list.body).toBe(200);
    const page = list.json() as { items: Finding[]; next: string | null };
    expect(page.items.map((f) => f.package).sort()).toEqual(["libssl3", "openssl"]);

    const byAsset = await call("viewer", "GET", "/api/v1/assets/web-1/findings?vuln=CVE-2023-38545");
    expect((byAsset.json() as { items: Finding[] }).items).toHaveLength(2);
    expect((await call("viewer", "GET", "/api/v1/findings?overdue=true")).statusCode).toBe(200);

    const id = page.items[0]?.id ?? "";
    const explained = await call("viewer", "GET", `/api/v1/findings/${id}/explain`);
    expect(explained.statusCode, explained.body).toBe(200);
    expect((explained.json() as { factors: unknown[] }).factors.length).toBeGreaterThanOrEqual(6);

    const vuln = await call("viewer", "GET", "/api/v1/vulnerabilities/DSA-5532-1");
    expect(vuln.statusCode, vuln.body).toBe(200);
    expect((vuln.json() as { counts: { assets: number } }).counts.assets).toBe(1);
    const first = await call("viewer", "GET", "/api/v1/vulnerabilities/DSA-5532-1?limit=1");
    expect(first.statusCode, first.body).toBe(200);
    expect((first.json() as { items: unknown[] }).items).toHaveLength(1);
    expect((await call("viewer", "GET", "/api/v1/vulnerabilities/DSA-5532-1?cursor=x")).statusCode).toBe(400);
    expect((await call("viewer", "GET", "/api/v1/vulnerabilities/DSA-5532-1?page=2")).statusCode).toBe(400);
    expect((await call("viewer", "GET", "/api/v1/vulnerabilities/CVE-1999-0001")).statusCode).toBe(404);
  });

  it("rejects bad queries naming where", async () => {
    const badClass = await call("viewer", "GET", "/api/v1/findings?class=urgent");
    expect(badClass.statusCode).toBe(400);
    expect(badClass.json()).toMatchObject({ error: { code: "validation", where: "/query/class" } });
    const badSelector = await call(
      "viewer",
      "GET",
      `/api/v1/findings?selector=${encodeURIComponent("a in (b")}`,
    );
    expect(badSelector.json()).toMatchObject({ error: { code: "validation", where: "offset 7" } });
    expect((await call("viewer", "GET", "/api/v1/assets/nope/findings")).statusCode).toBe(404);
  });

  it("enforces who may decide: approvers and admins suppress findings, operators reopen and re-match", async () => {
    const page = (await call("viewer", "GET", "/api/v1/findings?limit=100")).json() as {
      items: Finding[];
    };
    const [first, second] = page.items;
    const accept = { reason: "compensating control in place", expiresAt: "30d" };
    for (const role of ["viewer", "operator"] as const) {
      expect((await call(role, "POST", `/api/v1/findings/${first?.id}/accept-risk`, accept)).statusCode).toBe(
        403,
      );
    }
    const accepted = await call("approver", "POST", `/api/v1/findings/${first?.id}/accept-risk`, accept);
    expect(accepted.statusCode, accepted.body).toBe(200);
    expect(accepted.json()).toMatchObject({ status: "accepted-risk", statusBy: "user:approver" });
    const noReason = await call("admin", "POST", `/api/v1/findings/${second?.id}/accept-risk`, {
      expiresAt: "1d",
    });
    expect(noReason.json()).toMatchObject({ error: { code: "validation", where: "/body/reason" } });

    const vex = {
      justification: "inline_mitigations_already_exist",
      statement: "WAF rule 913100",
      reviewBy: "90d",
    };
    for (const role of ["viewer", "operator"] as const) {
      const refused = await call(role, "POST", `/api/v1/findings/${second?.id}/not-affected`, vex);
      expect(refused.statusCode, refused.body).toBe(403);
    }
    const noStatement = await call("approver", "POST", `/api/v1/findings/${second?.id}/not-affected`, {
      justification: vex.justification,
      reviewBy: "90d",
    });
    expect(noStatement.statusCode).toBe(400);
    expect(noStatement.json()).toMatchObject({ error: { code: "validation", where: "/body/statement" } });
    const noDate = await call("approver", "POST", `/api/v1/findings/${second?.id}/not-affected`, {
      justification: vex.justification,
      statement: vex.statement,
    });
    expect(noDate.statusCode).toBe(400);
    expect(noDate.json()).toMatchObject({
      error: { code: "validation", reason: "findings.expiry-required", where: "/body/expiresAt" },
    });
    expect((await call("viewer", "GET", `/api/v1/findings/${second?.id}`)).json()).toMatchObject({
      status: "open",
    });
    const marked = await call("approver", "POST", `/api/v1/findings/${second?.id}/not-affected`, vex);
    expect(marked.statusCode, marked.body).toBe(200);
    expect(marked.json()).toMatchObject({
      status: "not-affected",
      statusExpiresAt: "2027-02-18T10:00:00.000Z",
    });
    const reopened = await call("operator", "POST", `/api/v1/findings/${second?.id}/reopen`, {
      reason: "WAF removed",
    });
    expect(reopened.json()).toMatchObject({ status: "open" });

    expect((await call("viewer", "POST", "/api/v1/findings/rematch")).statusCode).toBe(403);
    const rematch = await call("operator", "POST", "/api/v1/findings/rematch");
    expect(rematch.statusCode, rematch.body).toBe(200);
    expect(rematch.json()).toMatchObject({ opened: 0, fixed: 0, unchanged: 5 });
    expect((await verifyAuditChain(store.db)).ok).toBe(true);
  });
});

describe("findings from the CLI, as a process", () => {
  let dir: string;
  let server: RunningServer;
  const admin = "apt_findings-cli-admin-token-0123456789";
  let env: Record<string, string>;
  let db: string;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "autopatch-findings-cli-"));
    db = `sqlite:${join(dir, "autopatch.db")}`;
    server = await startServer({
      databaseUrl: db,
      listen: "127.0.0.1:0",
      adminToken: admin,
      logger: pino({ level: "silent" }),
    });
    env = { AUTOPATCH_SERVER: server.url, AUTOPATCH_TOKEN: admin };
    await insertAdvisories(server.ctx.store.db, ADVISORIES);
    writeFileSync(join(dir, "status"), dpkg(base()));
  });
  afterAll(async () => {
    await server?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it("lists, explains, accepts a risk, shows a vulnerability and re-matches", async () => {
    const imported = await runCli(
      ["inventory", "import", join(dir, "status"), "--asset", "web-1", "--ecosystem", "Debian:12", "--json"],
      env,
    );
    expect(imported.code, imported.stderr).toBe(0);

    const table = await runCli(["findings", "list", "--class", "high", "-o", "wide"], env);
    expect(table.code, table.stderr).toBe(0);
    // The default table fits 100 columns; `-o wide` adds the installed version and the rest.
    for (const header of ["ASSET", "PACKAGE", "VULNERABILITY", "FIXED", "SCORE", "CLASS", "DUE", "STATUS"])
      expect(table.stdout).toContain(header);
    expect(table.stdout).toContain("CVE-2023-5678");

    const listed = JSON.parse(
      (await runCli(["findings", "list", "--json", "--limit", "2", "--all"], env)).stdout,
    ) as {
      findings: Finding[];
    };
    expect(listed.findings).toHaveLength(5);
    const high = listed.findings.find((f) => f.class === "high") as Finding;

    const explained = await runCli(["findings", "explain", high.id], env);
    expect(explained.code, explained.stderr).toBe(0);
    expect(explained.stdout).toMatch(/severity\s+\+75\.0\s+CVSS base score 7\.5 × 10/);
    expect(explained.stdout).toMatch(/score\s+75\.0/);

    const accepted = await runCli(
      ["findings", "accept-risk", high.id, "--reason", "isolated build host", "--expires", "30d", "--json"],
      env,
    );
    expect(accepted.code, accepted.stderr).toBe(0);
    expect(JSON.parse(accepted.stdout)).toMatchObject({ status: "accepted-risk" });
    const tooLong = await runCli(
      ["findings", "accept-risk", high.id, "--reason", "x", "--expires", "2y"],
      env,
    );
    expect(tooLong.code).toBe(2);
    expect(tooLong.stderr).toContain("--expires: ");
    const badVex = await runCli(
      [
        "findings",
        "not-affected",
        high.id,
        "--justification",
        "trust-me",
        "--statement",
        "x",
        "--review-by",
        "30d",
      ],
      env,
    );
    expect(badVex.code).toBe(2);
    const noStatement = await runCli(
      ["findings", "not-affected", high.id, "--justification", "component_not_present", "--review-by", "30d"],
      env,
    );
    expect(noStatement.code).toBe(2);
    const noDate = await runCli(
      [
        "findings",
        "not-affected",
        high.id,
        "--justification",
        "component_not_present",
        "--statement",
        "x",
        "--json",
      ],
      env,
    );
    expect(noDate.code).toBe(2);
    expect(JSON.parse(noDate.stderr)).toMatchObject({ error: { reason: "findings.expiry-required" } });
    const past = await runCli(
      ["findings", "accept-risk", high.id, "--reason", "x", "--review-by", "2020-01-01", "--json"],
      env,
    );
    expect(past.code).toBe(2);
    expect(JSON.parse(past.stderr)).toMatchObject({
      error: {
        reason: "findings.date-in-past",
        where: "--review-by",
        details: { requestWhere: "/body/reviewBy" },
      },
    });
    const zlib = listed.findings.find((f) => f.package === "zlib1g") as Finding;
    const vexed = await runCli(
      [
        "findings",
        "not-affected",
        zlib.id,
        "--justification",
        "vulnerable_code_not_in_execute_path",
        "--statement",
        "only trusted archives are read",
        "--review-by",
        "90d",
      ],
      env,
    );
    expect(vexed.code, vexed.stderr).toBe(0);
    expect(vexed.stdout).toMatch(new RegExp(`^${zlib.id}: not-affected until 20`));

    const vuln = await runCli(["vulnerabilities", "show", "CVE-2023-38545"], env);
    expect(vuln.code, vuln.stderr).toBe(0);
    expect(vuln.stdout).toContain("web-1");
    expect(vuln.stdout).toContain("DSA-5525-1");
    expect((await runCli(["vulnerabilities", "show", "CVE-1999-0001"], env)).code).toBe(3);
    const followed = await runCli(
      ["vulnerabilities", "show", "CVE-2023-38545", "--limit", "1", "--all"],
      env,
    );
    expect(followed.code, followed.stderr).toBe(0);
    expect(followed.stdout).toContain("web-1");
    const firstPage = JSON.parse(
      (await runCli(["vulnerabilities", "show", "CVE-2023-38545", "--limit", "1", "--json"], env)).stdout,
    ) as { items: unknown[]; counts: { open: number } };
    expect(firstPage.items).toHaveLength(1);
    expect(firstPage.counts.open).toBeGreaterThanOrEqual(1);

    const remote = JSON.parse((await runCli(["findings", "rematch", "--json"], env)).stdout) as FindingsDelta;
    expect(remote).toMatchObject({ opened: 0, unchanged: 5 });
    const offline = await runCli(["findings", "rematch", "--database", db, "--json"], {});
    expect(offline.code, offline.stderr).toBe(0);
    expect(JSON.parse(offline.stdout)).toMatchObject({ opened: 0, unchanged: 5 });
    expect(offline.stderr).toBe("");
  });
});
