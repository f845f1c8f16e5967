import type { FastifyInstance } from "fastify";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { rematchAll } from "../src/advisories/findings/rematch.js";
import { importParsedRecords } from "../src/advisories/ingest/import-batch.js";
import { parseOsvRecord } from "../src/advisories/osv/schema.js";
import { bootstrapAdminToken } from "../src/auth/tokens.js";
import type { PackageRecord } from "../src/domain/inventory.js";
import { canonicalPackageSet, packageSetDigest } from "../src/domain/package-set.js";
import { SYSTEM_ACTOR } from "../src/domain/roles.js";
import { recordAgentInventory } from "../src/inventory/agents.js";
import { replaceInventory } from "../src/inventory/report.js";
import { buildApp } from "../src/server/app.js";
import type { ServiceContext } from "../src/service/context.js";
import { contextFor, DIALECTS, freshStore } from "./helpers/stores.js";

const digestOf = (packages: PackageRecord[]) => packageSetDigest(canonicalPackageSet(packages).values());
const deb = (name: string, version: string): PackageRecord => ({
  ecosystem: "Debian:12",
  name,
  version,
  arch: "amd64",
});

describe.each(DIALECTS)("delta inventory reports and package-set digests (%s)", (dialect) => {
  let store: Awaited<ReturnType<typeof freshStore>>;
  let ctx: ServiceContext;
  let app: FastifyInstance;
  let credential = "";
  const call = (
    method: "POST" | "PUT" | "PATCH" | "GET",
    url: string,
    payload?: unknown,
    token = credential,
  ) =>
    app.inject({
      method,
      url,
      headers: { authorization: `Bearer ${token}` },
      ...(payload === undefined ? {} : { payload: payload as Record<string, unknown> }),
    });

  beforeAll(async () => {
    store = await freshStore(dialect);
    ctx = contextFor(store);
    const admin = (await bootstrapAdminToken(ctx))?.token ?? "";
    app = await buildApp(ctx);
    const token = await call("POST", "/api/v1/agent-tokens", {}, admin);
    const enrolled = await call(
      "POST",
      "/api/v1/agent/enroll",
      { name: "web-1" },
      (token.json() as { token: string }).token,
    );
    credential = (enrolled.json() as { credential: string }).credential;
  });
  afterAll(async () => {
    await app?.close();
    await store?.dispose();
  });

  it("a full report, then deltas against the acknowledged digest; a stale base or a wrong result is a 409", async () => {
    const first = [deb("openssl", "3.0.11-1"), deb("curl", "7.88.1-10"), deb("bash", "5.2.15-2")];
    const full = await call("PUT", "/api/v1/agent/inventory", { packages: first });
    expect(full.statusCode, full.body).toBe(200);
    expect(full.json()).toMatchObject({ total: 3, added: 3, digest: digestOf(first) });

    // The heartbeat's digest matches: no report wanted. Another digest asks for a full one.
    const beat = await call("POST", "/api/v1/agent/heartbeat", { packagesDigest: digestOf(first) });
    expect(beat.json()).toMatchObject({ inventoryWanted: false });
    expect(
      (await call("POST", "/api/v1/agent/heartbeat", { packagesDigest: "0".repeat(64) })).json(),
    ).toMatchObject({
      inventoryWanted: true,
    });

    const second = [deb("openssl", "3.0.13-1"), deb("curl", "7.88.1-10"), deb("zlib1g", "1.2.13")];
    const delta = await call("PATCH", "/api/v1/agent/inventory", {
      base: digestOf(first),
      digest: digestOf(second),
      added: [deb("openssl", "3.0.13-1"), deb("zlib1g", "1.2.13")],
      removed: [deb("openssl", "3.0.11-1"), deb("bash", "5.2.15-2")],
    });
    expect(delta.statusCode, delta.body).toBe(200);
    expect(delta.json()).toMatchObject({
      total: 3,
      added: 1,
      removed: 1,
      changed: 1,
      digest: digestOf(second),
    });
    const shown = await call(
      "GET",
      "/api/v1/assets/web-1",
      undefined,
      (await bootstrapAdminToken(ctx))?.token ?? "",
    );
    if (shown.statusCode === 200) {
      expect(
        (shown.json() as { packages: PackageRecord[] }).packages.map((p) => `${p.name}=${p.version}`),
      ).toEqual(["curl=7.88.1-10", "openssl=3.0.13-1", "zlib1g=1.2.13"]);
    }

    // The same delta again: its base is no longer the stored set.
    const stale = await call("PATCH", "/api/v1/agent/inventory", {
      base: digestOf(first),
      digest: digestOf(second),
      added: [],
      removed: [],
    });
    expect(stale.statusCode).toBe(409);
    expect(stale.json()).toMatchObject({
      error: { code: "conflict", reason: "inventory.delta-base-mismatch", where: "/body/base" },
    });
    // A delta whose result is not the set the agent says it has changes nothing.
    const wrong = await call("PATCH", "/api/v1/agent/inventory", {
      base: digestOf(second),
      digest: digestOf(first),
      added: [deb("bash", "5.2.15-2")],
      removed: [],
    });
    expect(wrong.statusCode).toBe(409);
    expect(wrong.json()).toMatchObject({ error: { reason: "inventory.delta-digest-mismatch" } });
    const reports = await store.db.selectFrom("inventory_reports").select("id").execute();
    expect(reports).toHaveLength(2);

    // A full report is accepted at any time.
    const again = await call("PUT", "/api/v1/agent/inventory", { packages: first });
    expect(again.json()).toMatchObject({
      total: 3,
      changed: 1,
      added: 1,
      removed: 1,
      digest: digestOf(first),
    });
  });

  it("a delta keeps the whole-set rules: one version per package, no emptying, metadata changes", async () => {
    const base = [deb("openssl", "3.0.11-1"), deb("curl", "7.88.1-10")];
    expect((await call("PUT", "/api/v1/agent/inventory", { packages: base })).statusCode).toBe(200);
    const twoVersions = [...base, deb("openssl", "3.0.13-1")];
    const dup = await call("PATCH", "/api/v1/agent/inventory", {
      base: digestOf(base),
      digest: digestOf(twoVersions),
      added: [deb("openssl", "3.0.13-1")],
      removed: [],
    });
    expect(dup.statusCode, dup.body).toBe(400);
    expect(dup.json()).toMatchObject({
      error: {
        reason: "inventory.duplicate-package",
        message:
          "openssl:amd64 is listed with two versions, 3.0.11-1 and 3.0.13-1; dpkg installs one version per package and architecture",
      },
    });
    const empty = await call("PATCH", "/api/v1/agent/inventory", {
      base: digestOf(base),
      digest: digestOf([]),
      added: [],
      removed: base,
    });
    expect(empty.statusCode, empty.body).toBe(409);
    expect(empty.json()).toMatchObject({ error: { reason: "inventory.would-empty" } });
    // The same package again, and one unknown to the set removed: nothing changes.
    const same = await call("PATCH", "/api/v1/agent/inventory", {
      base: digestOf(base),
      digest: digestOf(base),
      added: [deb("curl", "7.88.1-10")],
      removed: [deb("bash", "5.2.15-2")],
    });
    expect(same.json()).toMatchObject({ unchanged: true, total: 2, digest: digestOf(base) });
    const withPurl = [
      deb("openssl", "3.0.11-1"),
      { ...deb("curl", "7.88.1-10"), purl: "pkg:deb/debian/curl@7.88.1-10" },
    ];
    const meta = await call("PATCH", "/api/v1/agent/inventory", {
      base: digestOf(base),
      digest: digestOf(withPurl),
      added: [withPurl[1]],
      removed: [],
    });
    expect(meta.statusCode, meta.body).toBe(200);
    expect(meta.json()).toMatchObject({ total: 2, added: 0, removed: 0, changed: 0, unchanged: false });

    // A stored set that breaks the rule (an import does not hold it): every delta keeping both is refused.
    const asset = await store.db
      .selectFrom("assets")
      .select(["id", "name"])
      .where("name", "=", "web-1")
      .executeTakeFirstOrThrow();
    await store.write((trx) => replaceInventory(trx, SYSTEM_ACTOR, asset, twoVersions, "import", new Date()));
    const kept = await call("PATCH", "/api/v1/agent/inventory", {
      base: digestOf(twoVersions),
      digest: digestOf([...twoVersions, deb("zlib1g", "1.2.13")]),
      added: [deb("zlib1g", "1.2.13")],
      removed: [],
    });
    expect(kept.statusCode, kept.body).toBe(400);
    expect(kept.json()).toMatchObject({
      error: {
        reason: "inventory.duplicate-package",
        message: expect.stringContaining("3.0.11-1 and 3.0.13-1"),
      },
    });
    const fixed = await call("PATCH", "/api/v1/agent/inventory", {
      base: digestOf(twoVersions),
      digest: digestOf([base[1] as PackageRecord, deb("openssl", "3.0.13-1")]),
      added: [],
      removed: [deb("openssl", "3.0.11-1")],
    });
    expect(fixed.statusCode, fixed.body).toBe(200);
    expect(fixed.json()).toMatchObject({ total: 2, removed: 1 });
  });

  it("reports arriving during a full re-match are neither lost nor matched against a stale set", async () => {
    await importParsedRecords(
      ctx,
      SYSTEM_ACTOR,
      [
        parseOsvRecord(
          {
            id: "DEBIAN-CVE-2099-0001",
            modified: "2026-01-01T00:00:00Z",
            upstream: ["CVE-2099-0001"],
            affected: [
              {
                package: { ecosystem: "Debian:12", name: "libfoo" },
                ranges: [{ type: "ECOSYSTEM", events: [{ introduced: "0" }, { fixed: "2.0-1" }] }],
              },
            ],
          },
          { file: "inline" },
        ),
      ],
      "inline",
    );
    const agents = await store.db
      .selectFrom("assets")
      .select("id")
      .where("name", "=", "web-1")
      .executeTakeFirstOrThrow();
    const actor = { ...SYSTEM_ACTOR, kind: "agent" as const, assetId: agents.id };
    // Chunks of one set: the report below lands between chunks (SQLite) or alongside them (PostgreSQL).
    for (let i = 0; i < 5; i++)
      await store.write(async (trx) => {
        const { insertAsset } = await import("../src/inventory/assets.js");
        const { replaceInventory } = await import("../src/inventory/report.js");
        const a = await insertAsset(trx, SYSTEM_ACTOR, `other-${i}`, {}, new Date());
        await replaceInventory(trx, SYSTEM_ACTOR, a, [deb("libfoo", "1.0-1")], "import", new Date());
      });
    const run = rematchAll(ctx, { setsPerChunk: 1 });
    // web-1 reports the vulnerable version while the run goes on: a package no one had when it began.
    const report = recordAgentInventory(ctx, actor, [deb("libfoo", "1.5-1"), deb("curl", "7.88.1-10")]);
    const [delta, summary] = await Promise.all([run, report]);
    expect(summary).toMatchObject({ added: 1 });
    expect(delta.fixed).toBe(0);
    const open = await store.db
      .selectFrom("findings")
      .innerJoin("assets", "assets.id", "findings.asset_id")
      .select(["assets.name", "findings.installed_version", "findings.status"])
      .where("findings.vuln_id", "=", "CVE-2099-0001")
      .orderBy("assets.name")
      .execute();
    expect(open.map((f) => [f.name, f.installed_version, f.status])).toEqual([
      ["other-0", "1.0-1", "open"],
      ["other-1", "1.0-1", "open"],
      ["other-2", "1.0-1", "open"],
      ["other-3", "1.0-1", "open"],
      ["other-4", "1.0-1", "open"],
      ["web-1", "1.5-1", "open"],
    ]);
    // Once more, nothing changed.
    expect(await rematchAll(ctx, { setsPerChunk: 2 })).toMatchObject({
      opened: 0,
      updated: 0,
      fixed: 0,
      unchanged: 6,
    });
  });
});
