import { spawn } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Command } from "commander";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse as parseYaml } from "yaml";
import { commandPath } from "../src/cli/help/conventions.js";
import { cliReference } from "../src/cli/help/docs.js";
import { EXAMPLES } from "../src/cli/help/examples.js";
import { buildProgram } from "../src/cli/main.js";
import { CLI_PATH } from "../src/localfleet/fleet.js";
import { runCli } from "./helpers/cli.js";
import { startTestServer, type TestServer } from "./helpers/server.js";

const ADMIN = "apt_cli-conventions-admin-token-0123";

/** Every command with `-o`, by whether it only reads (run here) or changes something. */
const READS = [
  "version",
  "assets list",
  "assets show",
  "advisories list",
  "advisories show",
  "findings list",
  "findings explain",
  "vulnerabilities show",
  "token list",
  "agent-token list",
  "principal list",
  "audit list",
  "policy validate",
  "policy list",
  "policy show",
  "policy proposals",
  "windows next",
  "windows check",
  "change list",
  "rollout list",
  "incident list",
  "artifact list",
  "versions list-ecosystems",
] as const;

function leaves(command: Command): Command[] {
  return command.commands.flatMap((c) => (c.commands.length === 0 ? [c] : leaves(c)));
}

/** Runs the CLI with its stdout closed before it writes: a reader that went away, as `| head -0`. */
function runIntoClosedPipe(
  args: readonly string[],
  env: Record<string, string>,
): Promise<{ code: number; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI_PATH, ...args], {
      env: { ...process.env, ...env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    child.stdout.destroy();
    let stderr = "";
    child.stderr.on("data", (d: Buffer) => {
      stderr += d.toString();
    });
    child.on("error", reject);
    child.on("close", (code) => resolve({ code: code ?? -1, stderr }));
  });
}

describe("CLI conventions", () => {
  let server: TestServer | undefined;
  let env: Record<string, string> = {};
  let args: Record<(typeof READS)[number], string[]>;

  beforeAll(async () => {
    server = await startTestServer("cli-conventions", ADMIN);
    env = server.env;
    const dir = server.dir;
    const status = join(dir, "status");
    writeFileSync(
      status,
      "Package: openssl\nStatus: install ok installed\nArchitecture: amd64\nVersion: 3.0.11-1~deb12u1\n",
    );
    const advisory = join(dir, "advisory.json");
    writeFileSync(
      advisory,
      JSON.stringify({
        schema_version: "1.6.0",
        id: "DEBIAN-CVE-2099-0101",
        aliases: ["CVE-2099-0101"],
        modified: "2026-01-01T00:00:00Z",
        summary: "a test vulnerability in openssl",
        affected: [
          {
            package: { ecosystem: "Debian:12", name: "openssl" },
            ranges: [{ type: "ECOSYSTEM", events: [{ introduced: "0" }, { fixed: "3.0.13-1~deb12u1" }] }],
          },
        ],
      }),
    );
    for (const name of ["web-1", "web-2"]) {
      const r = await runCli(
        ["inventory", "import", status, "--asset", name, "--ecosystem", "Debian:12"],
        env,
      );
      expect(r.code, r.stderr).toBe(0);
    }
    const imported = await runCli(["advisories", "import", advisory], env);
    expect(imported.code, imported.stderr).toBe(0);
    expect((await runCli(["findings", "rematch"], env)).code).toBe(0);
    const policy = join(dir, "policy.yaml");
    const shown = await runCli(["policy", "default"], env);
    writeFileSync(policy, shown.stdout);
    expect((await runCli(["policy", "apply", policy], env)).code).toBe(0);
    const findings = JSON.parse((await runCli(["findings", "list", "-o", "json"], env)).stdout) as {
      findings: Array<{ id: string }>;
    };
    const finding = findings.findings[0]?.id ?? "none";
    const policyName =
      (JSON.parse((await runCli(["policy", "list", "--json"], env)).stdout) as Array<{ name: string }>)[0]
        ?.name ?? "default";
    args = {
      version: ["version"],
      "assets list": ["assets", "list"],
      "assets show": ["assets", "show", "web-1"],
      "advisories list": ["advisories", "list"],
      "advisories show": ["advisories", "show", "DEBIAN-CVE-2099-0101"],
      "findings list": ["findings", "list"],
      "findings explain": ["findings", "explain", finding],
      "vulnerabilities show": ["vulnerabilities", "show", "CVE-2099-0101"],
      "token list": ["token", "list"],
      "agent-token list": ["agent-token", "list"],
      "principal list": ["principal", "list"],
      "audit list": ["audit", "list", "--all"],
      "policy validate": ["policy", "validate", policy],
      "policy list": ["policy", "list"],
      "policy show": ["policy", "show", policyName],
      "policy proposals": ["policy", "proposals"],
      "windows next": ["windows", "next", "--policy", policy],
      "windows check": ["windows", "check", "--policy", policy, "--at", "now"],
      "change list": ["change", "list"],
      "rollout list": ["rollout", "list"],
      "incident list": ["incident", "list"],
      "artifact list": ["artifact", "list"],
      "versions list-ecosystems": ["versions", "list-ecosystems"],
    };
  });
  afterAll(async () => {
    await server?.close();
  });

  it("runs every reading command with -o json, -o yaml and --json: the same data", {
    timeout: 300_000,
  }, async () => {
    for (const name of READS) {
      const json = await runCli([...args[name], "-o", "json"], env);
      expect(json.code, `${name}: ${json.stderr}`).toBe(0);
      const data: unknown = JSON.parse(json.stdout);
      const yaml = await runCli([...args[name], "-o", "yaml"], env);
      expect(yaml.code, `${name}: ${yaml.stderr}`).toBe(0);
      expect(parseYaml(yaml.stdout), name).toEqual(data);
      const alias = await runCli([...args[name], "--json"], env);
      expect(JSON.parse(alias.stdout), name).toEqual(data);
    }
  });

  it("keeps the JSON shapes scripts rely on", async () => {
    const list = JSON.parse((await runCli(["assets", "list", "-o", "json"], env)).stdout) as unknown[];
    expect(Array.isArray(list)).toBe(true);
    const shown = JSON.parse((await runCli(["assets", "show", "web-1", "-o", "json"], env)).stdout) as {
      packages: unknown[];
    };
    expect(shown.packages).toHaveLength(1);
  });

  it("ends quietly with status 0 when the reader closes the pipe, in every output format", {
    timeout: 300_000,
  }, async () => {
    const formats = [[], ["-o", "json"], ["-o", "yaml"]];
    for (const [i, name] of READS.entries()) {
      for (const format of [formats[i % 3] ?? [], ...(name === "assets show" ? formats : [])]) {
        const r = await runIntoClosedPipe([...args[name], ...format], env);
        expect(r.code, `${name} ${format.join(" ")}: ${r.stderr}`).toBe(0);
        expect(r.stderr, name).not.toMatch(/EPIPE|\n\s+at /);
      }
    }
  });

  it("fits tables in 100 columns without a terminal, and -o wide shows more", async () => {
    for (const name of ["findings list", "assets list", "audit list", "change list"] as const) {
      const table = await runCli(args[name], env);
      expect(table.code, table.stderr).toBe(0);
      for (const line of table.stdout.split("\n"))
        expect(line.length, `${name}: ${line}`).toBeLessThanOrEqual(100);
    }
    const table = await runCli(["findings", "list"], env);
    const wide = await runCli(["findings", "list", "-o", "wide"], env);
    expect(table.stdout).not.toContain("INSTALLED");
    expect(wide.stdout).toContain("INSTALLED");
    expect(wide.stdout).toContain("3.0.11-1~deb12u1");
  });

  it("prints no colour codes under NO_COLOR even when colour is forced, and colours when forced", async () => {
    const plain = await runCli(["findings", "list"], { ...env, NO_COLOR: "1", FORCE_COLOR: "1" });
    expect(plain.stdout).not.toContain("\u001b[");
    const piped = await runCli(["findings", "list"], env);
    expect(piped.stdout).not.toContain("\u001b[");
    const forced = await runCli(["findings", "list"], { ...env, FORCE_COLOR: "1" });
    expect(forced.stdout).toContain("\u001b[");
  });

  it("says No resources found instead of an empty table", async () => {
    const r = await runCli(["change", "list"], env);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe("");
    expect(r.stderr).toContain("No resources found");
    expect(JSON.parse((await runCli(["change", "list", "-o", "json"], env)).stdout)).toEqual([]);
  });

  it("names assets, not ids: audit list --target asset:NAME", async () => {
    const r = await runCli(["audit", "list", "--all", "--target", "asset:web-1", "-o", "json"], env);
    expect(r.code, r.stderr).toBe(0);
    const events = (JSON.parse(r.stdout) as { events: Array<{ targetType: string }> }).events;
    expect(events.length).toBeGreaterThan(0);
    expect(events.every((e) => e.targetType === "asset")).toBe(true);
    const table = await runCli(["audit", "list", "--all", "--target", "asset:web-1"], env);
    expect(table.stdout).toContain("asset:web-1");
  });

  it("refuses to change an existing label without --overwrite", async () => {
    expect((await runCli(["assets", "label", "web-2", "tier=frontend"], env)).code).toBe(0);
    const refused = await runCli(["assets", "label", "web-2", "tier=edge"], env);
    expect(refused.code).toBe(4);
    expect(refused.stderr).toContain("--overwrite");
    const same = await runCli(["assets", "label", "web-2", "tier=frontend", "-o", "json"], env);
    expect(same.code).toBe(0);
    const changed = await runCli(["assets", "label", "web-2", "tier=edge", "--overwrite", "-o", "json"], env);
    expect(changed.code, changed.stderr).toBe(0);
    expect((JSON.parse(changed.stdout) as { labels: Record<string, string> }).labels.tier).toBe("edge");
  });

  it("prints times with an offset and no milliseconds, in UTC with --utc", async () => {
    const r = await runCli(["audit", "list", "--utc", "-o", "wide"], { ...env, TZ: "Europe/Berlin" });
    expect(r.stdout).toMatch(/\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ/);
    expect(r.stdout).not.toMatch(/\d\d:\d\d:\d\d\.\d{3}/);
    const local = await runCli(["audit", "list"], { ...env, TZ: "Asia/Kolkata" });
    expect(local.stdout).toMatch(/T\d\d:\d\d:\d\d\+05:30/);
  });

  it("change plan --detailed-exitcode and --out, change create --plan pins it, change wait exits 1 on a bad outcome", {
    timeout: 300_000,
  }, async () => {
    const created = await runCli(
      [
        "change",
        "create",
        "--package",
        "openssl",
        "--version",
        "3.0.13-1~deb12u1",
        "-l",
        "name=web-1",
        "--justification",
        "CVE-2099-0101",
        "-o",
        "json",
      ],
      env,
    );
    expect(created.code, created.stderr).toBe(0);
    const id = (JSON.parse(created.stdout) as { id: string }).id;
    const planFile = join(server?.dir ?? ".", "plan.json");
    const plan = await runCli(["change", "plan", id, "--detailed-exitcode", "--out", planFile], env);
    expect(plan.code, plan.stderr).toBe(2);
    const pinned = await runCli(["change", "create", "--plan", planFile, "-o", "json"], env);
    expect(pinned.code, pinned.stderr).toBe(0);
    expect(JSON.parse(pinned.stdout)).toMatchObject({ state: "draft", selector: "name=web-1" });
    // The plan moves under it: web-1 is patched elsewhere, so the saved plan no longer holds.
    const status = join(server?.dir ?? ".", "patched");
    writeFileSync(
      status,
      "Package: openssl\nStatus: install ok installed\nArchitecture: amd64\nVersion: 3.0.13-1~deb12u1\n",
    );
    expect(
      (await runCli(["inventory", "import", status, "--asset", "web-1", "--ecosystem", "Debian:12"], env))
        .code,
    ).toBe(0);
    const refused = await runCli(["change", "create", "--plan", planFile], env);
    expect(refused.code).toBe(4);
    expect(refused.stderr).toContain("targets");
    const nothing = await runCli(["change", "plan", id, "--detailed-exitcode"], env);
    expect(nothing.code, nothing.stderr).toBe(0);
    expect((await runCli(["change", "cancel", id], env)).code).toBe(0);
    const waited = await runCli(["change", "wait", id, "--for", "state=completed", "--timeout", "10s"], env);
    expect(waited.code).toBe(1);
    expect(waited.stderr).toContain("not completed");
    const bad = await runCli(["change", "wait", id, "--for", "state=done"], env);
    expect(bad.code).toBe(2);
  });

  it("covers every command that takes -o: it reads (run above) or it changes something", async () => {
    const program = await buildProgram();
    const withOutput = leaves(program)
      .filter((c) => c.options.some((o) => o.long === "--output" && o.short === "-o"))
      .map(commandPath);
    const reads: readonly string[] = READS;
    const writes = withOutput.filter((p) => !reads.includes(p));
    // Each of these changes state, waits, or needs more than a store to run (a fleet, a rollout).
    for (const p of writes)
      expect(p, p).toMatch(
        / (create|label|update|delete|reenroll|import|rematch|accept-risk|not-affected|reopen|revoke|disable|enable|apply|propose|approve|reject|submit|cancel|review|plan|wait|from-findings|show|watch|pause|resume|abort|promote|retry|skip|stop-all|resume-all|close|upload|down|compare|proposal|verify|public-key|checkpoint|export|diff|use)$|^migrate$/,
      );
  });

  it("has an example and marks required options in every command's help", async () => {
    const program = await buildProgram();
    for (const command of leaves(program)) {
      const path = commandPath(command);
      expect(EXAMPLES[path], path).toBeDefined();
      let help = "";
      command.configureOutput({ writeOut: (text) => (help += text) });
      command.outputHelp();
      expect(help, path).toContain("Examples:");
      for (const option of command.options.filter((o) => o.mandatory)) {
        expect(help, `${path} ${option.long}`).toMatch(
          new RegExp(`${option.long}[^\\n]*\\n?[^\\n]*\\(required\\)`),
        );
      }
    }
  });

  it("docs/cli.md is generated from the command definitions and up to date (npm run docs:cli)", async () => {
    const docs = readFileSync(join(import.meta.dirname, "..", "docs", "cli.md"), "utf8");
    expect(docs).toBe(cliReference(await buildProgram()));
  });
});
