import { createHash } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SYSTEM_ACTOR } from "../src/domain/roles.js";
import { importInventory } from "../src/inventory/import.js";
import { buildDeb } from "../src/localfleet/deb-builder.js";
import { runCli } from "./helpers/cli.js";
import { startTestServer, type TestServer } from "./helpers/server.js";

const ADMIN = "apt_artifact-cli-admin-token-0123456789";

describe("artifact CLI and change create --artifact", () => {
  let t: TestServer;
  let deb = "";
  const json = async (args: string[]) => {
    const r = await runCli([...args, "--json"], t.env);
    expect(r.code, r.stderr).toBe(0);
    return JSON.parse(r.stdout) as Record<string, unknown>;
  };
  const changeCount = async () =>
    (await t.server.ctx.store.db.selectFrom("change_requests").select("id").execute()).length;

  beforeAll(async () => {
    t = await startTestServer("artifact-cli", ADMIN);
    deb = await buildDeb({ name: "fleet-service", version: "1.1.0-1" }, join(t.dir, "debs"));
    await importInventory(t.server.ctx, SYSTEM_ACTOR, {
      asset: "web-1",
      content: "Package: fleet-service\nStatus: install ok installed\nArchitecture: all\nVersion: 1.0.0-1\n",
      format: "dpkg",
      ecosystem: "Debian:12",
      placement: { environment: "prod", group: "web", region: "eu" },
    });
  });
  afterAll(async () => {
    await t?.close();
  });

  it("artifact upload prints the file's sha256, package, version, arch and size; list shows it", async () => {
    const uploaded = await json(["artifact", "upload", deb]);
    expect(uploaded).toMatchObject({
      sha256: createHash("sha256").update(readFileSync(deb)).digest("hex"),
      package: "fleet-service",
      version: "1.1.0-1",
      arch: "all",
      size: readFileSync(deb).length,
    });
    const listed = (await json(["artifact", "list"])) as unknown as Array<{ sha256: string }>;
    expect(listed.map((a) => a.sha256)).toEqual([uploaded.sha256]);
    const table = await runCli(["artifact", "list"], t.env);
    expect(table.stdout).toContain("fleet-service");

    const junk = join(t.dir, "junk.deb");
    writeFileSync(junk, "not a package");
    const refused = await runCli(["artifact", "upload", junk, "--json"], t.env);
    expect(refused.code).toBe(2);
    expect(JSON.parse(refused.stderr)).toMatchObject({ error: { reason: "artifact.not-a-deb" } });
    const missing = await runCli(["artifact", "upload", join(t.dir, "nope.deb")], t.env);
    expect(missing.code).toBe(3);
  });

  it("change create --artifact reads the package and version from the file, and refuses a mismatch", async () => {
    const base = [
      "change",
      "create",
      "--artifact",
      deb,
      "--selector",
      "group=web",
      "--justification",
      "CVE-2026-0001",
    ];
    const created = await json(base);
    const shown = await json(["change", "show", String(created.id)]);
    expect(shown).toMatchObject({
      patch: {
        package: "fleet-service",
        version: "1.1.0-1",
        artifact: {
          name: "fleet-service_1.1.0-1_all.deb",
          sha256: createHash("sha256").update(readFileSync(deb)).digest("hex"),
        },
      },
    });
    const before = await changeCount();
    for (const [flag, value] of [
      ["--version", "1.2.0-1"],
      ["--package", "openssl"],
    ] as const) {
      const r = await runCli([...base, flag, value, "--json"], t.env);
      expect(r.code, r.stderr).toBe(2);
      expect(JSON.parse(r.stderr)).toMatchObject({ error: { reason: "artifact.mismatch", where: flag } });
    }
    // Matching flags are fine; no flags and no artifact is a usage error.
    await json([...base, "--package", "fleet-service", "--version", "1.1.0-1"]);
    const bare = await runCli(["change", "create", "--selector", "group=web", "--justification", "x"], t.env);
    expect(bare.code).toBe(2);
    expect(await changeCount()).toBe(before + 1);
  });
});
