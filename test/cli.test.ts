import { writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Command } from "commander";
import { sql } from "kysely";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildProgram, COMMAND_MODULES } from "../src/cli/main.js";
import { MIGRATIONS } from "../src/store/migrations/index.js";
import { openStore } from "../src/store/store.js";
import { runCli } from "./helpers/cli.js";
import { startTestServer, type TestServer } from "./helpers/server.js";

const FIXTURES = join(import.meta.dirname, "fixtures", "data");

function allCommands(command: Command, prefix: string[] = []): string[][] {
  return command.commands
    .filter((c) => c.name() !== "help")
    .flatMap((c) => [[...prefix, c.name()], ...allCommands(c, [...prefix, c.name()])]);
}

describe("the CLI as a process", () => {
  let dir: string;
  let testServer: TestServer | undefined;
  const admin = "apt_cli-test-admin-token-0123456789";
  let env: Record<string, string>;

  beforeAll(async () => {
    testServer = await startTestServer("cli", admin);
    ({ dir, env } = testServer);
  });
  afterAll(async () => {
    await testServer?.close();
  });

  it("every command and subcommand has --help that explains it", async () => {
    const program = await buildProgram();
    const commands = allCommands(program);
    expect(commands.length).toBeGreaterThan(20);
    for (const path of commands) {
      let command: Command | undefined = program;
      for (const name of path) command = command?.commands.find((c) => c.name() === name);
      if (!command) throw new Error(`no command ${path.join(" ")}`);
      expect(command.description().length, path.join(" ")).toBeGreaterThan(10);
      expect(command.helpInformation(), path.join(" ")).toMatch(/^Usage: autopatch/);
    }
  });

  it("lists every command module's commands in the top-level help without loading them", async () => {
    const names = COMMAND_MODULES.flatMap((m) => Object.keys(m.commands));
    expect((await buildProgram("")).commands.map((c) => c.name())).toEqual(names);
    expect((await buildProgram()).commands.map((c) => c.name())).toEqual(names);
  });

  it("`autopatch --help` runs as a process", async () => {
    const result = await runCli(["--help"]);
    expect(result.code).toBe(0);
    for (const name of [
      "server",
      "agent",
      "migrate",
      "assets",
      "inventory",
      "token",
      "agent-token",
      "audit",
    ]) {
      expect(result.stdout).toContain(name);
    }
  });

  it("imports a real dpkg status file and shows it back as JSON", async () => {
    const status = join(FIXTURES, "dpkg", "debian12-bookworm-node-image.status");
    const imported = await runCli(
      ["inventory", "import", status, "--asset", "node-image", "--ecosystem", "Debian:12", "--json"],
      env,
    );
    expect(imported.code, imported.stderr).toBe(0);
    expect(JSON.parse(imported.stdout)).toMatchObject({
      asset: "node-image",
      total: 719,
      added: 719,
      created: true,
    });

    const list = await runCli(["assets", "list", "--json"], env);
    const assets = JSON.parse(list.stdout) as Array<Record<string, unknown>>;
    expect(assets[0]).toEqual(
      expect.objectContaining({
        name: "node-image",
        kind: "host",
        environment: "",
        group: "",
        region: "",
        labels: {},
        lastSeen: expect.any(String),
      }),
    );
    const show = await runCli(["assets", "show", "node-image", "--json"], env);
    const asset = JSON.parse(show.stdout) as {
      packages: Array<{ ecosystem: string; name: string; version: string }>;
    };
    expect(asset.packages).toHaveLength(719);
    expect(asset.packages).toContainEqual(
      expect.objectContaining({ ecosystem: "Debian:12", name: "adduser" }),
    );
  });

  it("labels assets and filters by selector", async () => {
    expect((await runCli(["assets", "label", "node-image", "tier=web", "canary=yes"], env)).code).toBe(0);
    expect((await runCli(["assets", "label", "node-image", "canary-"], env)).code).toBe(0);
    const hit = JSON.parse(
      (await runCli(["assets", "list", "--selector", "tier=web,!canary", "--json"], env)).stdout,
    ) as unknown[];
    expect(hit).toHaveLength(1);
    const bad = await runCli(["assets", "list", "--selector", "tier in (web", "--json"], env);
    expect(bad.code).toBe(2);
    expect(JSON.parse(bad.stderr)).toMatchObject({ error: { code: "validation", where: "offset 12" } });
  });

  it("prints tokens as JSON, once, and they work with their role", async () => {
    const created = await runCli(["token", "create", "--role", "viewer", "--name", "reader", "--json"], env);
    const { token } = JSON.parse(created.stdout) as { token: string };
    expect(token).toMatch(/^apt_/);
    const asViewer = { ...env, AUTOPATCH_TOKEN: token };
    expect((await runCli(["assets", "list", "--json"], asViewer)).code).toBe(0);
    expect((await runCli(["token", "create", "--role", "admin", "--json"], asViewer)).code).toBe(5);
    const list = await runCli(["token", "list", "--json"], env);
    expect(list.stdout).not.toContain(token);
    const agentToken = await runCli(["agent-token", "create", "--reusable", "--json"], env);
    expect(JSON.parse(agentToken.stdout)).toMatchObject({ token: expect.stringMatching(/^ape_/) });
  });

  it("exits non-zero with a clear error on bad input, unknown objects and bad tokens", async () => {
    const broken = join(dir, "broken.status");
    writeFileSync(broken, "Package: a\nStatus: install ok installed\nVersion: 1\nthis line has no colon\n");
    const bad = await runCli(["inventory", "import", broken, "--asset", "x", "--format", "dpkg"], env);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain("broken.status:4");
    expect((await runCli(["assets", "show", "x", "--json"], env)).code).toBe(3);
    expect((await runCli(["assets", "show", "nope"], env)).stderr).toMatch(/no asset named "nope"/);
    expect((await runCli(["assets", "list"], { ...env, AUTOPATCH_TOKEN: "apt_wrong" })).code).toBe(5);
    expect(
      (await runCli(["assets", "list"], { AUTOPATCH_SERVER: "http://127.0.0.1:1", AUTOPATCH_TOKEN: "x" }))
        .stderr,
    ).toMatch(/cannot reach the autopatch server/);
  });

  it("parses SBOMs offline with --dry-run", async () => {
    const sbom = join(FIXTURES, "sbom", "cyclonedx", "juice-shop-14.1.1.npm.cdx-1.4.json");
    const result = await runCli(["inventory", "import", sbom, "--dry-run", "--json"]);
    expect(result.code).toBe(0);
    const parsed = JSON.parse(result.stdout) as { format: string; packages: Array<{ ecosystem: string }> };
    expect(parsed.format).toBe("cyclonedx");
    expect(parsed.packages.length).toBeGreaterThan(900);
    expect(parsed.packages.every((p) => p.ecosystem === "npm")).toBe(true);
  });

  it("audit verify exits 0 on an intact chain and 6 naming the first broken event", async () => {
    const ok = await runCli(["audit", "verify"], env);
    expect(ok.code).toBe(0);
    expect(ok.stdout).toMatch(/intact/);
    const page = JSON.parse(
      (await runCli(["audit", "list", "--all", "--limit", "2", "--json"], env)).stdout,
    ) as { events: unknown[] };
    expect(page.events.length).toBeGreaterThan(4);

    const store = await openStore(`sqlite:${join(dir, "autopatch.db")}`);
    await sql`update audit_events set reason = 'rewritten' where seq = 2`.execute(store.db);
    await store.close();
    const broken = await runCli(["audit", "verify", "--database", `sqlite:${join(dir, "autopatch.db")}`]);
    expect(broken.code).toBe(6);
    expect(broken.stderr).toMatch(/BROKEN at event 2/);
    expect((await runCli(["audit", "verify", "--json"], env)).code).toBe(6);
  });

  it("migrate works offline and is idempotent", async () => {
    const url = `sqlite:${join(dir, "m.db")}`;
    const first = await runCli(["migrate", "--json"], { AUTOPATCH_DATABASE_URL: url });
    const all = Object.keys(MIGRATIONS);
    expect(JSON.parse(first.stdout)).toMatchObject({ applied: all });
    const second = await runCli(["migrate", "--json"], { AUTOPATCH_DATABASE_URL: url });
    expect(JSON.parse(second.stdout)).toMatchObject({ applied: [], current: all.at(-1) });
    const wrong = await runCli(["migrate"], { AUTOPATCH_DATABASE_URL: "mysql://x" });
    expect(wrong.code).toBe(2);
  });
});
