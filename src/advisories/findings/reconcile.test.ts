import { describe, expect, it } from "vitest";
import {
  AUDITED_IDS,
  type DesiredFinding,
  type FindingFacts,
  findingFacts,
  findingKey,
  fingerprint,
  Reconciler,
  type StoredFinding,
} from "./reconcile.js";

const NOW = new Date("2026-11-20T10:00:00.000Z");
const EARLIER = "2026-10-01T08:00:00.000Z";
const DUE = (firstSeen: string) => `due-from-${firstSeen}`;

const facts = (overrides: Partial<Omit<FindingFacts, "core">> = {}): FindingFacts =>
  findingFacts({
    vulnId: "CVE-2023-5678",
    advisoryIds: '["DSA-5532-1"]',
    aliases: '["CVE-2023-5678","DSA-5532-1"]',
    fixedVersion: "3.0.13-1~deb12u1",
    severityScore: 7.5,
    severityVector: "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:H",
    epss: 0.00043,
    kev: 0,
    riskScore: 75,
    class: "high",
    ...overrides,
  });

const desired = (version = "3.0.11-1~deb12u1", f = facts(), pkg = "libssl3"): DesiredFinding => ({
  assetId: "a1",
  ecosystem: "Debian:12",
  packageName: pkg,
  arch: "amd64",
  installedVersion: version,
  facts: f,
});

function stored(d: DesiredFinding, overrides: Partial<StoredFinding> = {}): StoredFinding {
  const firstSeen = overrides.firstSeen ?? EARLIER;
  return {
    id: `id-${d.packageName}`,
    key: findingKey(d.assetId, d.ecosystem, d.packageName, d.arch, d.installedVersion, d.facts.vulnId),
    status: "open",
    statusReason: null,
    statusBy: null,
    statusExpiresAt: null,
    firstSeen,
    fingerprint: fingerprint(d.installedVersion, d.facts, DUE(firstSeen)),
    ...overrides,
  };
}

function run(stores: StoredFinding[], offers: DesiredFinding[]) {
  const r = new Reconciler(stores, { now: NOW, by: "system", dueAt: (_a, _c, firstSeen) => DUE(firstSeen) });
  for (const d of offers) r.offer(d);
  const inserts = [];
  const updates = [];
  for (const batch of r.batches(2)) {
    inserts.push(...batch.inserts);
    updates.push(...batch.updates);
  }
  const fixed = r.fixedIds();
  return { inserts, updates, fixed, counts: r.counts, ids: r.changedIds };
}

describe("Reconciler", () => {
  const d = desired();
  it.each([
    ["a new match is inserted open", [], [d], { opened: 1 }],
    ["the same match again changes nothing", [stored(d)], [d], { unchanged: 1 }],
    ["a moved installed version is an update", [stored(d)], [desired("3.0.11-1~deb12u2")], { updated: 1 }],
    [
      "a new KEV listing is an update",
      [stored(d)],
      [desired(undefined, facts({ kev: 1, class: "emergency" }))],
      { updated: 1 },
    ],
    ["a fixed finding affected again opens", [stored(d, { status: "fixed" })], [d], { opened: 1 }],
    [
      "an expired acceptance opens again",
      [stored(d, { status: "accepted-risk", statusExpiresAt: "2026-11-01T00:00:00.000Z" })],
      [d],
      { reopened: 1 },
    ],
    [
      "an acceptance still running is kept",
      [stored(d, { status: "accepted-risk", statusExpiresAt: "2026-12-01T00:00:00.000Z" })],
      [d],
      { unchanged: 1 },
    ],
    ["not-affected is kept while matched", [stored(d, { status: "not-affected" })], [d], { unchanged: 1 }],
    [
      "a not-affected statement past its review date opens again",
      [stored(d, { status: "not-affected", statusExpiresAt: "2026-11-01T00:00:00.000Z" })],
      [d],
      { reopened: 1 },
    ],
    [
      "a not-affected statement before its review date is kept",
      [stored(d, { status: "not-affected", statusExpiresAt: "2026-12-01T00:00:00.000Z" })],
      [d],
      { unchanged: 1 },
    ],
    ["no longer matched is fixed", [stored(d)], [], { fixed: 1 }],
    [
      "an accepted risk no longer matched is fixed too",
      [stored(d, { status: "accepted-risk" })],
      [],
      { fixed: 1 },
    ],
    ["fixed and not matched stays as it is", [stored(d, { status: "fixed" })], [], {}],
  ] as const)("%s", (_label, stores, offers, expected) => {
    const { counts } = run([...stores], [...offers]);
    expect(counts).toEqual({ opened: 0, updated: 0, reopened: 0, fixed: 0, unchanged: 0, ...expected });
  });

  it("inserts carry the facts and a due date from now; updates keep first seen", () => {
    const fresh = run([], [d]);
    expect(fresh.inserts[0]).toMatchObject({
      asset_id: "a1",
      package_name: "libssl3",
      vuln_id: "CVE-2023-5678",
      installed_version: "3.0.11-1~deb12u1",
      fixed_version: "3.0.13-1~deb12u1",
      risk_score: 75,
      class: "high",
      due_at: DUE(NOW.toISOString()),
    });
    const moved = run([stored(d)], [desired("3.0.11-1~deb12u2")]);
    expect(moved.updates[0]).toMatchObject({
      id: "id-libssl3",
      installed_version: "3.0.11-1~deb12u2",
      first_seen: EARLIER,
      due_at: DUE(EARLIER),
      status: "open",
      updated_at: NOW.toISOString(),
    });
  });

  it("a regression starts a new exposure; an expired acceptance keeps its first sighting", () => {
    expect(run([stored(d, { status: "fixed" })], [d]).updates[0]).toMatchObject({
      status: "open",
      first_seen: NOW.toISOString(),
      status_reason: null,
    });
    expect(
      run([stored(d, { status: "accepted-risk", statusExpiresAt: "2026-11-01T00:00:00.000Z" })], [d])
        .updates[0],
    ).toMatchObject({
      status: "open",
      first_seen: EARLIER,
      status_reason: "risk acceptance expired at 2026-11-01T00:00:00.000Z",
      status_by: "system",
      status_expires_at: null,
    });
  });

  it("two installed versions of one package make one finding each, whichever comes first", () => {
    const a = desired("1.0-2");
    const b = desired("1.0-10");
    for (const order of [
      [a, b],
      [b, a],
    ]) {
      const { inserts } = run([], order);
      expect(inserts.map((i) => i.installed_version).sort()).toEqual(["1.0-10", "1.0-2"]);
    }
  });

  it("a package that moved to another affected version keeps its finding, status and first sighting", () => {
    const old = desired("1.0-2");
    const moved = desired("1.0-3");
    const { updates, inserts, fixed } = run([stored(old, { status: "accepted-risk" })], [moved]);
    expect(inserts).toEqual([]);
    expect(fixed).toEqual([]);
    expect(updates[0]).toMatchObject({
      installed_version: "1.0-3",
      status: "accepted-risk",
      first_seen: EARLIER,
    });
  });

  it(`lists at most ${AUDITED_IDS} ids while counting every change`, () => {
    const offers = Array.from({ length: AUDITED_IDS + 50 }, (_, i) =>
      desired(undefined, undefined, `pkg-${i}`),
    );
    const { counts, ids } = run([], offers);
    expect(counts.opened).toBe(AUDITED_IDS + 50);
    expect(ids.opened).toHaveLength(AUDITED_IDS);
  });

  it("compares numbers at their stored precision", () => {
    // What PostgreSQL's single-precision `real` columns give back.
    const single = facts({
      epss: Math.fround(0.00043),
      riskScore: Math.fround(86.2),
      severityScore: Math.fround(7.5),
    });
    const exact = facts({ epss: 0.00043, riskScore: 86.2 });
    expect(single.core).toBe(exact.core);
  });
});
