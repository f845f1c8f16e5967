/**
 * Debian packages without a release match no `Debian:12` advisory: imports warn, `assets list` shows
 * such assets, and a release the distribution does not have is refused before anything is written.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SYSTEM_ACTOR } from "../src/domain/roles.js";
import { getAsset, listAssets } from "../src/inventory/assets.js";
import { NO_RELEASE_WARNING } from "../src/inventory/distro-releases.js";
import { importInventory } from "../src/inventory/import.js";
import type { ServiceContext } from "../src/service/context.js";
import { runCli } from "./helpers/cli.js";
import { startTestServer, type TestServer } from "./helpers/server.js";
import { contextFor, DIALECTS, freshStore } from "./helpers/stores.js";

const FIXTURES = join(import.meta.dirname, "fixtures", "data");
const STATUS_FILE = join(FIXTURES, "dpkg", "osv-scalibr-valid.status");
const STATUS = readFileSync(STATUS_FILE, "utf8");
const JUICE_SHOP = join(FIXTURES, "sbom", "cyclonedx", "juice-shop-14.1.1.npm.cdx-1.4.json");

describe.each(DIALECTS)("releases of imported dpkg packages on %s", (dialect) => {
  let store: Awaited<ReturnType<typeof freshStore>>;
  let ctx: ServiceContext;

  beforeAll(async () => {
    store = await freshStore(dialect);
    ctx = contextFor(store);
  });
  afterAll(() => store.dispose());

  it("warns when a dpkg import names no release, and lists the asset as missing one", async () => {
    const bare = await importInventory(ctx, SYSTEM_ACTOR, {
      asset: "bare-1",
      content: STATUS,
      format: "dpkg",
    });
    expect(bare.warnings).toEqual([NO_RELEASE_WARNING]);
    const debian = await importInventory(ctx, SYSTEM_ACTOR, {
      asset: "bookworm-1",
      content: STATUS,
      format: "dpkg",
      ecosystem: "Debian:12",
    });
    expect(debian.warnings).toEqual([]);
    const sbom = await importInventory(ctx, SYSTEM_ACTOR, {
      asset: "juice-shop",
      content: readFileSync(JUICE_SHOP, "utf8"),
      file: "juice-shop.cdx.json",
    });
    expect(sbom.warnings).toEqual([]);

    const listed = await listAssets(ctx);
    expect(listed.map((a) => [a.name, a.missingRelease])).toEqual([
      ["bare-1", ["Debian"]],
      ["bookworm-1", []],
      ["juice-shop", []],
    ]);
    expect((await listAssets(ctx, { selector: "name=bare-1" })).map((a) => a.missingRelease)).toEqual([
      ["Debian"],
    ]);
    expect((await getAsset(ctx, "bare-1")).missingRelease).toEqual(["Debian"]);
    expect((await getAsset(ctx, "bookworm-1")).missingRelease).toEqual([]);

    // Imported again with its release, the asset is no longer listed as missing one.
    await importInventory(ctx, SYSTEM_ACTOR, {
      asset: "bare-1",
      content: STATUS,
      format: "dpkg",
      ecosystem: "Debian:12",
    });
    expect((await getAsset(ctx, "bare-1")).missingRelease).toEqual([]);
    expect((await listAssets(ctx)).every((a) => a.missingRelease.length === 0)).toBe(true);
  });

  it.each(["Debian:99", "Ubuntu:24.10:LTS"])("refuses %s and writes nothing", async (ecosystem) => {
    const before = await listAssets(ctx);
    await expect(
      importInventory(ctx, SYSTEM_ACTOR, { asset: "nowhere-1", content: STATUS, format: "dpkg", ecosystem }),
    ).rejects.toMatchObject({ code: "validation", reason: "inventory.unknown-release", where: "ecosystem" });
    expect(await listAssets(ctx)).toEqual(before);
  });
});

describe("releases through the CLI", () => {
  let testServer: TestServer | undefined;
  let env: Record<string, string> = {};

  beforeAll(async () => {
    testServer = await startTestServer("release", "apt_release-test-admin-token-0123456789");
    env = testServer.env;
  });
  afterAll(async () => {
    await testServer?.close();
  });

  it("`inventory import --ecosystem Debian` warns as `scan` does, and `assets list` marks the asset", async () => {
    const imported = await runCli(
      ["inventory", "import", STATUS_FILE, "--asset", "bare-1", "--ecosystem", "Debian"],
      env,
    );
    expect(imported.code, imported.stderr).toBe(0);
    expect(imported.stderr).toContain(`warning: ${NO_RELEASE_WARNING}`);
    const withRelease = await runCli(
      ["inventory", "import", STATUS_FILE, "--asset", "bookworm-1", "--ecosystem", "Debian:12"],
      env,
    );
    expect(withRelease.code, withRelease.stderr).toBe(0);
    expect(withRelease.stderr).toBe("");

    const json = await runCli(["assets", "list", "--json"], env);
    expect(json.code, json.stderr).toBe(0);
    expect(
      (JSON.parse(json.stdout) as Array<{ name: string; missingRelease: string[] }>).map((a) => [
        a.name,
        a.missingRelease,
      ]),
    ).toEqual([
      ["bare-1", ["Debian"]],
      ["bookworm-1", []],
    ]);
    const table = await runCli(["assets", "list"], env);
    expect(table.code, table.stderr).toBe(0);
    expect(table.stdout).toMatch(/RELEASE/);
    expect(table.stdout.split("\n").find((l) => l.includes(" bare-1 "))).toContain("missing (Debian)");
    expect(table.stdout.split("\n").find((l) => l.includes(" bookworm-1 "))).not.toContain("missing");
    expect(table.stderr).toMatch(/warning: 1 asset report Debian or Ubuntu packages without a release/);
  });

  it("`inventory import --ecosystem Debian:99` and `scan --ecosystem Debian:99` are refused", async () => {
    const imported = await runCli(
      ["inventory", "import", STATUS_FILE, "--asset", "nowhere-1", "--ecosystem", "Debian:99"],
      env,
    );
    expect(imported.code).toBe(2);
    expect(imported.stderr).toMatch(/Debian has no release "99"/);
    const listed = await runCli(["assets", "list", "--json"], env);
    expect((JSON.parse(listed.stdout) as Array<{ name: string }>).map((a) => a.name)).not.toContain(
      "nowhere-1",
    );

    const scanned = await runCli([
      "scan",
      "--advisories",
      join(FIXTURES, "osv", "ghsa-sample-trimmed.jsonl"),
      "--dpkg-status",
      STATUS_FILE,
      "--ecosystem",
      "Debian:99",
    ]);
    expect(scanned.code).toBe(2);
    expect(scanned.stderr).toMatch(
      /Debian has no release "99".*--ecosystem|--ecosystem.*Debian has no release "99"/,
    );
  });
});
