/**
 * `change from-findings` drafts one change per source package and fixed version: Debian fixes
 * openssh once for openssh-client and openssh-server, and openssl once for libssl3 and openssl. The
 * change names one binary and lists the others, and its plan targets every asset with any of them
 * below the version.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { importAdvisoryRecords } from "../src/advisories/ingest/import-records.js";
import { parseOsvRecord } from "../src/advisories/osv/schema.js";
import { draftFromFindings } from "../src/changes/from-findings.js";
import { getChangePlan, readChange } from "../src/changes/queries.js";
import { SYSTEM_ACTOR } from "../src/domain/roles.js";
import { importInventory } from "../src/inventory/import.js";
import type { ServiceContext } from "../src/service/context.js";
import { debianAdvisory } from "./helpers/advisories.js";
import { contextFor, DIALECTS, freshStore } from "./helpers/stores.js";

const OPENSSH_OLD = "1:9.2p1-2+deb12u2";
const OPENSSH_FIXED = "1:9.2p1-2+deb12u3";
const OPENSSL_OLD = "3.0.11-1~deb12u2";
const OPENSSL_FIXED = "3.0.13-1~deb12u1";

const stanza = (name: string, version: string, source?: string) =>
  [
    `Package: ${name}`,
    "Status: install ok installed",
    "Architecture: amd64",
    ...(source ? [`Source: ${source}`] : []),
    `Version: ${version}`,
    "",
  ].join("\n");

const HOSTS: Record<string, string[]> = {
  // Both openssh binaries and both openssl binaries, all old.
  "web-1": [
    stanza("openssh-client", OPENSSH_OLD, "openssh"),
    stanza("openssh-server", OPENSSH_OLD, "openssh"),
    stanza("libssl3", OPENSSL_OLD, "openssl"),
    stanza("openssl", OPENSSL_OLD),
  ],
  // Only the server binary of openssh (no client), and only the library of openssl.
  "web-2": [stanza("openssh-server", OPENSSH_OLD, "openssh"), stanza("libssl3", OPENSSL_OLD, "openssl")],
  // The openssh client is already fixed; its server is not.
  "web-3": [
    stanza("openssh-client", OPENSSH_FIXED, "openssh"),
    stanza("openssh-server", OPENSSH_OLD, "openssh"),
  ],
};

const ADVISORIES = [
  debianAdvisory({
    id: "DSA-9001-1",
    cve: "CVE-2099-1001",
    source: "openssh",
    fixed: OPENSSH_FIXED,
    cvss: "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:N/A:N",
  }),
  debianAdvisory({
    id: "DSA-9002-1",
    cve: "CVE-2099-1002",
    source: "openssl",
    fixed: OPENSSL_FIXED,
    cvss: "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:N/A:N",
  }),
].map((r, i) => parseOsvRecord(r, { file: "test", pointerBase: `/${i}` }));

describe.each(DIALECTS)("drafting changes per source package on %s", (dialect) => {
  let store: Awaited<ReturnType<typeof freshStore>>;
  let ctx: ServiceContext;

  beforeAll(async () => {
    store = await freshStore(dialect);
    ctx = contextFor(store);
    for (const [asset, stanzas] of Object.entries(HOSTS)) {
      await importInventory(ctx, SYSTEM_ACTOR, {
        asset,
        content: stanzas.join("\n"),
        format: "dpkg",
        ecosystem: "Debian:12",
        placement: { group: "web" },
      });
    }
    await importAdvisoryRecords(ctx, SYSTEM_ACTOR, ADVISORIES, "advisories.json");
  });
  afterAll(() => store.dispose());

  it("drafts one change per source and version, naming the binaries it covers", async () => {
    const classes = await store.db.selectFrom("findings").select("class").distinct().execute();
    expect(classes.map((c) => c.class)).toEqual(["high"]);
    const result = await draftFromFindings(ctx, SYSTEM_ACTOR, { class: "high", selector: "group=web" });
    expect(result.skipped).toEqual([]);
    expect(
      result.created.map((c) => ({
        package: c.package,
        source: c.source,
        packages: c.packages,
        version: c.version,
        assets: c.assets,
        advisories: c.advisories,
      })),
    ).toEqual([
      {
        // No binary is named "openssh": the one on most assets is named, ties by name.
        package: "openssh-server",
        source: "openssh",
        packages: ["openssh-client", "openssh-server"],
        version: OPENSSH_FIXED,
        assets: ["web-1", "web-2", "web-3"],
        advisories: ["CVE-2099-1001"],
      },
      {
        package: "openssl",
        source: "openssl",
        packages: ["libssl3", "openssl"],
        version: OPENSSL_FIXED,
        assets: ["web-1", "web-2"],
        advisories: ["CVE-2099-1002"],
      },
    ]);
    const [openssh, openssl] = result.created;
    expect((await readChange(ctx, openssh?.id ?? "")).patch).toMatchObject({
      package: "openssh-server",
      alsoPackages: ["openssh-client"],
      version: OPENSSH_FIXED,
    });
    expect((await readChange(ctx, openssl?.id ?? "")).patch).toMatchObject({
      package: "openssl",
      alsoPackages: ["libssl3"],
    });

    // Running it again drafts nothing new.
    const again = await draftFromFindings(ctx, SYSTEM_ACTOR, { class: "high", selector: "group=web" });
    expect(again.created).toEqual([]);
  });

  it("plans every asset with any of the change's binaries below the version as a target", async () => {
    const changes = await store.db
      .selectFrom("change_requests")
      .select(["id", "package_name"])
      .orderBy("package_name")
      .execute();
    const byPackage = new Map(changes.map((c) => [c.package_name, c.id]));
    const openssl = await getChangePlan(ctx, byPackage.get("openssl") ?? "");
    // web-2 has libssl3 but no openssl binary: still a target, from its libssl3 version.
    expect(openssl.targets.map((t) => [t.name, t.fromVersion, t.toVersion]).sort()).toEqual([
      ["web-1", OPENSSL_OLD, OPENSSL_FIXED],
      ["web-2", OPENSSL_OLD, OPENSSL_FIXED],
    ]);
    expect(openssl.skipped).toEqual([]);
    const openssh = await getChangePlan(ctx, byPackage.get("openssh-server") ?? "");
    expect(openssh.targets.map((t) => t.name).sort()).toEqual(["web-1", "web-2", "web-3"]);
    expect(openssh.skipped).toEqual([]);
  });
});
