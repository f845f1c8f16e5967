import { createHash } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { PlanV2 } from "../src/changes/plan.js";
import { SYSTEM_ACTOR } from "../src/domain/roles.js";
import { importInventory } from "../src/inventory/import.js";
import { buildDeb } from "../src/localfleet/deb-builder.js";
import type { RunningServer } from "../src/server/start.js";
import { runCli } from "./helpers/cli.js";
import { insertFindings } from "./helpers/findings.js";
import { startTestServer, type TestServer } from "./helpers/server.js";

// The interface scripts rely on: `autopatch change …` and `autopatch policy apply|list|show` as processes.
describe("change and policy commands as processes", () => {
  let dir: string;
  let server: RunningServer;
  let testServer: TestServer | undefined;
  const admin = "apt_changes-cli-admin-token-0123456789";
  let env: Record<string, string>;
  const as: Record<string, Record<string, string>> = {};

  const json = async (args: string[], who: Record<string, string>) => {
    const result = await runCli([...args, "--json"], who);
    expect(result.code, `${args.join(" ")}: ${result.stderr}`).toBe(0);
    return JSON.parse(result.stdout) as Record<string, unknown>;
  };

  beforeAll(async () => {
    testServer = await startTestServer("changes-cli", admin);
    ({ dir, server, env } = testServer);
    // web-1 and web-2 have openssl below the changes' version, web-3 has it already, db-1 lacks it.
    for (const [name, environment, group, region, openssl] of [
      ["web-1", "prod", "web", "eu", "3.0.11-1"],
      ["web-2", "prod", "web", "us", "3.0.11-1"],
      ["web-3", "prod", "web", "us", "3.0.15-1"],
      ["db-1", "prod", "db", "eu", null],
    ] as const) {
      const packages = [["curl", "7.88.1-10"], ...(openssl === null ? [] : [["openssl", openssl]])];
      await importInventory(server.ctx, SYSTEM_ACTOR, {
        asset: name,
        content: packages
          .map(
            ([p, v]) => `Package: ${p}\nStatus: install ok installed\nArchitecture: amd64\nVersion: ${v}\n`,
          )
          .join("\n"),
        format: "dpkg",
        ecosystem: "Debian:12",
        placement: { environment, group, region },
      });
    }
  });
  afterAll(async () => {
    await testServer?.close();
  });

  it("token create prints {token} for each role", async () => {
    const roles = [
      ["ops", "operator"],
      ["cab-1", "approver"],
      ["watcher", "viewer"],
    ] as const;
    // Independent processes run side by side to keep the test short.
    const created = await Promise.all(
      roles.map(([name, role]) => json(["token", "create", "--role", role, "--name", name], env)),
    );
    roles.forEach(([name], i) => {
      expect(created[i]?.token).toEqual(expect.stringMatching(/^apt_/));
      as[name] = { ...env, AUTOPATCH_TOKEN: String(created[i]?.token) };
    });
  });

  it("policy apply stores a version once per content; list and show read it back", async () => {
    const file = join(dir, "cab.yaml");
    writeFileSync(file, "name: cab\napprovals:\n  required: 1\n");
    // Only an admin stores policies: an operator's apply is refused (exit 5) and stores nothing.
    const refused = await runCli(["policy", "apply", file, "--json"], as.ops ?? env);
    expect(refused.code).toBe(5);
    expect(JSON.parse(refused.stderr)).toMatchObject({ error: { code: "forbidden" } });
    expect(await json(["policy", "apply", file], env)).toMatchObject({
      name: "cab",
      version: 1,
      created: true,
    });
    writeFileSync(join(dir, "bad.yaml"), "name: bad\nrollout:\n  observe: soon\n");
    const [again, list, shown, missing, bad] = await Promise.all([
      runCli(["policy", "apply", file], env),
      json(["policy", "list"], as.watcher ?? env),
      json(["policy", "show", "cab@1"], as.watcher ?? env),
      runCli(["policy", "show", "nope"], env),
      runCli(["policy", "apply", join(dir, "bad.yaml"), "--json"], env),
    ]);
    expect(again.stdout).toMatch(/^unchanged: cab@1 /);
    expect((list as unknown as Array<{ name: string }>).map((p) => p.name)).toEqual(["cab", "default"]);
    expect(shown).toMatchObject({
      name: "cab",
      version: 1,
      content: "name: cab\napprovals:\n  required: 1\n",
    });
    expect(missing.code).toBe(3);
    expect(bad.code).toBe(2);

    // An operator proposes instead; an approver who is not the proposer approves, and it is stored.
    writeFileSync(
      join(dir, "cab-proposed.yaml"),
      "name: cab\napprovals:\n  required: 1\n  expiresAfter: 24h\n",
    );
    const proposed = await json(
      ["policy", "propose", join(dir, "cab-proposed.yaml"), "--reason", "shorter approval validity"],
      as.ops ?? env,
    );
    expect(proposed).toMatchObject({ name: "cab", state: "pending", baseVersion: 1 });
    const pid = String(proposed.id);
    const [listed, own] = await Promise.all([
      runCli(["policy", "proposals", "--state", "pending"], as.watcher ?? env),
      runCli(["policy", "approve", pid], as.ops ?? env),
    ]);
    expect(listed.stdout).toContain(pid);
    expect(own.code).toBe(5);
    const approved = await runCli(["policy", "approve", pid, "--reason", "ok"], as["cab-1"] ?? env);
    expect(approved.code, approved.stderr).toBe(0);
    expect(approved.stdout).toBe(`${pid}: approved, stored as cab@2\n`);
    const shownProposal = await runCli(["policy", "proposal", pid], as.watcher ?? env);
    expect(shownProposal.stdout).toMatch(/state:\s+approved: stored as cab@2/);
    expect(JSON.parse(bad.stderr)).toMatchObject({
      error: { where: expect.stringMatching(/bad\.yaml:3:12$/) },
    });
  });

  it("create → plan → submit → approve, with exit codes for illegal transitions and bad input", async () => {
    // A real package file: `change create --artifact` uploads it and the store reads its control fields.
    const deb = await buildDeb({ name: "openssl", version: "3.0.15-1", arch: "amd64" }, join(dir, "debs"));
    const policyFile = join(dir, "cab-v2.yaml");
    writeFileSync(policyFile, "name: cab\napprovals:\n  required: 1\nrollout:\n  observe: 10m\n");
    const ops = as.ops ?? env;
    const createArgs = (file: string) => [
      "change",
      "create",
      "--package",
      "openssl",
      "--version",
      "3.0.15-1",
      "--selector",
      "group=web",
      "--policy",
      file,
      "--justification",
      "CVE-2024-5535",
      "--json",
    ];
    // A new policy file needs an admin to store it; once stored, an operator's change pins it by content.
    const unstored = await runCli(createArgs(policyFile), ops);
    expect(unstored.code, unstored.stderr).toBe(5);
    expect(await json(["policy", "apply", policyFile], env)).toMatchObject({ name: "cab", version: 3 });
    const created = await json(
      [
        "change",
        "create",
        "--package",
        "openssl",
        "--version",
        "3.0.15-1",
        "--artifact",
        deb,
        "--selector",
        "group=web",
        "--policy",
        policyFile,
        "--justification",
        "CVE-2024-5535",
        "--ticket",
        "OPS-7",
      ],
      ops,
    );
    const id = String(created.id);
    expect(id).toMatch(/^chg-[0-9a-f]{8}$/);
    const [shown, planJson, timeline] = await Promise.all([
      json(["change", "show", id], ops),
      json(["change", "plan", id], ops),
      runCli(["change", "plan", id], ops),
    ]);
    expect(shown).toMatchObject({
      state: "draft",
      policy: { name: "cab", version: 3 },
      patch: {
        package: "openssl",
        version: "3.0.15-1",
        ticket: "OPS-7",
        artifact: {
          name: "openssl_3.0.15-1_amd64.deb",
          sha256: createHash("sha256").update(readFileSync(deb)).digest("hex"),
        },
      },
    });

    const plan = planJson as unknown as PlanV2;
    expect(plan).toMatchObject({
      version: 2,
      patch: { ecosystem: "Debian", package: "openssl", version: "3.0.15-1" },
      skipped: [{ name: "web-3", reason: "up-to-date", installedVersion: "3.0.15-1" }],
      summary: { toPatch: 2, skipped: 1, phases: 2, rings: 1 },
    });
    expect(plan.phases[0]?.name).toBe("canary");
    expect(plan.phases.flatMap((p) => p.assets.map((a) => a.name)).sort()).toEqual(["web-1", "web-2"]);
    expect(plan.targets.map((t) => `${t.name} ${t.fromVersion} → ${t.toVersion}`).sort()).toEqual([
      "web-1 3.0.11-1 → 3.0.15-1",
      "web-2 3.0.11-1 → 3.0.15-1",
    ]);
    expect(plan.phases[0]?.gates).toContainEqual({ kind: "observation", ms: 600_000 });
    expect(timeline.code).toBe(0);
    expect(timeline.stdout).toContain("canary");
    expect(timeline.stdout).toMatch(/^ +web-1 +3\.0\.11-1 → 3\.0\.15-1$/m);
    expect(timeline.stdout).toMatch(/^ +web-3 +up to date \(3\.0\.15-1 installed\)$/m);
    expect(timeline.stdout.trimEnd().split("\n").at(-1)).toMatch(
      /^Plan: 2 to patch, 1 skipped \(1 up-to-date\); 2 phases in 1 ring; earliest start \d{4}-\d\d-\d\d \d\d:\d\d; estimated end \d{4}-\d\d-\d\d \d\d:\d\d\.$/,
    );

    expect((await json(["change", "submit", id], ops)).state).toBe("submitted");
    const twice = await runCli(["change", "submit", id, "--json"], ops);
    expect(twice.code).toBe(4);
    expect(JSON.parse(twice.stderr)).toMatchObject({
      error: { code: "conflict", message: expect.stringContaining("is submitted") },
    });
    expect((await runCli(["change", "approve", id], ops)).code).toBe(5);
    const approved = await runCli(["change", "approve", id, "--reason", "CAB ok"], as["cab-1"] ?? env);
    expect(approved.code, approved.stderr).toBe(0);
    expect(approved.stdout).toMatch(new RegExp(`^${id}: scheduled at `));
    expect(await json(["change", "show", id], as.watcher ?? env)).toMatchObject({
      state: "scheduled",
      approvals: [{ approver: "cab-1", reason: "CAB ok", valid: true }],
      plan: {
        phases: expect.arrayContaining([
          { name: "canary", kind: "canary", assets: 1, start: expect.any(String) },
        ]),
        assets: 2,
        skipped: 1,
      },
      // Scripts find the rollout here once the change has started; none yet.
      rolloutId: null,
    });
    const list = (await json(["change", "list", "--state", "scheduled"], ops)) as unknown as Array<{
      id: string;
    }>;
    expect(list.map((c) => c.id)).toEqual([id]);
    expect((await runCli(["change", "cancel", id, "--reason", "moved"], ops)).code).toBe(0);
    expect((await runCli(["change", "cancel", id], ops)).code).toBe(4);

    // Bad input: exit 2 with where; a missing object: 3; nothing created.
    const [missing, badSelector, badState, unknown] = await Promise.all([
      runCli(["change", "create", "--package", "xz-utils", "--version", "1", "--selector", "group=web"], ops),
      runCli(
        ["change", "create", "--package", "xz-utils", "--version", "1", "--selector", "group in (web"].concat(
          ["--justification", "j", "--json"],
        ),
        ops,
      ),
      runCli(["change", "list", "--state", "nope"], ops),
      runCli(["change", "show", "chg-00000000"], ops),
    ]);
    expect(missing.code).toBe(2);
    expect(badSelector.code).toBe(2);
    expect(JSON.parse(badSelector.stderr)).toMatchObject({
      error: { code: "validation", where: "--selector", details: { requestWhere: "/body/selector" } },
    });
    expect(badState.code).toBe(2);
    expect(unknown.code).toBe(3);
    expect(((await json(["change", "list"], ops)) as unknown as unknown[]).length).toBe(1);
  });

  it("emergency without evidence: waits for an approver's confirmation, then its review is pending until recorded", async () => {
    const ops = as.ops ?? env;
    const { id } = (await json(
      [
        "change",
        "create",
        "--package",
        "curl",
        "--version",
        "7.88.1-10+deb12u8",
        "--selector",
        "name=db-1",
        "--justification",
        "exploited in the wild",
        "--emergency",
        "--risk",
        "curl users restart",
        "--rollback",
        "apt install curl=7.88.1-10+deb12u7",
      ],
      ops,
    )) as { id: string };
    const submitted = await runCli(["change", "submit", id], ops);
    expect(submitted.stdout).toMatch(/submitted/);
    const waiting = await runCli(["change", "show", id], ops);
    expect(waiting.stdout).toMatch(
      /emergency:\s+no known-exploited or emergency finding: needs an approver's confirmation/,
    );
    expect((await runCli(["change", "approve", id], ops)).code).toBe(5);
    const confirmed = await runCli(["change", "approve", id, "--reason", "SOC confirms"], as["cab-1"] ?? env);
    expect(confirmed.code, confirmed.stderr).toBe(0);
    expect(confirmed.stdout).toMatch(/scheduled/);
    const human = await runCli(["change", "show", id], ops);
    expect(human.stdout).toMatch(/review:\s+pending \(due 20\d\d-/);
    expect((await runCli(["change", "review", id], as["cab-1"] ?? env)).code).toBe(2);
    const reviewed = await runCli(
      ["change", "review", id, "--reason", "justified", "--json"],
      as["cab-1"] ?? env,
    );
    expect(reviewed.code, reviewed.stderr).toBe(0);
    expect(JSON.parse(reviewed.stdout)).toMatchObject({ review: { state: "done", by: "cab-1" } });
  });

  it("from-findings drafts one change per fixed version and prints the ids", async () => {
    const ids = new Map(
      (await server.ctx.store.db.selectFrom("assets").select(["id", "name"]).execute()).map((a) => [
        a.name,
        a.id,
      ]),
    );
    const row = (n: number, asset: string, pkg: string, fixed: string) => ({
      id: `f-${n}`,
      asset_id: ids.get(asset) ?? "",
      ecosystem: "Debian:12",
      package_name: pkg,
      arch: "amd64",
      installed_version: "1.0-1",
      vuln_id: `CVE-2024-000${n}`,
      advisory_ids: "[]",
      aliases: "[]",
      fixed_version: fixed,
      severity_score: 7.5,
      severity_vector: null,
      epss: null,
      kev: 0,
      risk_score: 7.5,
      class: "high",
      status: "open",
      status_reason: null,
      status_by: null,
      status_expires_at: null,
      first_seen: "2026-11-20T00:00:00.000Z",
      due_at: null,
      updated_at: "2026-11-20T00:00:00.000Z",
    });
    await insertFindings(server.ctx.store.db, [
      row(1, "web-1", "libxml2", "2.9.14+dfsg-1.3~deb12u2"),
      row(2, "web-2", "libxml2", "2.9.14+dfsg-1.3~deb12u2"),
      row(3, "web-3", "tar", "1.34+dfsg-1.2+deb12u1"),
    ]);
    const drafted = await runCli(
      ["change", "from-findings", "--class", "high", "--selector", "group=web"],
      as.ops ?? env,
    );
    expect(drafted.code, drafted.stderr).toBe(0);
    const created = drafted.stdout.trim().split("\n");
    expect(created).toHaveLength(2);
    for (const id of created) expect(id).toMatch(/^chg-[0-9a-f]{8}$/);
    const first = await json(["change", "show", created[0] ?? ""], env);
    expect(first).toMatchObject({
      state: "draft",
      selector: "name in (web-1,web-2)",
      patch: { package: "libxml2" },
    });
    const again = await json(["change", "from-findings", "--class", "high", "--selector", "group=web"], env);
    expect(again).toMatchObject({ created: [] });
    expect(
      (await runCli(["change", "from-findings", "--class", "soon", "--selector", "group=web"], env)).code,
    ).toBe(2);
  });
});
