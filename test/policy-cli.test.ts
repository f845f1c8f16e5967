// `autopatch policy default|validate|apply|diff|use|list` and `windows next|check --policy NAME` as
// processes against a real server (run `npm run build` first).
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runCli } from "./helpers/cli.js";
import { startTestServer, type TestServer } from "./helpers/server.js";

// Each test runs several CLI processes; on a shared machine one takes seconds.
const CLI_TIMEOUT = 120_000;

describe("policy and windows commands as processes", () => {
  let testServer: TestServer | undefined;
  let env: Record<string, string>;
  let dir: string;
  const admin = "apt_policy-cli-admin-token-0123456789";
  const file = (name: string, text: string): string => {
    const path = join(dir, name);
    writeFileSync(path, text);
    return path;
  };

  beforeAll(async () => {
    testServer = await startTestServer("policy-cli", admin);
    ({ env, dir } = testServer);
  });
  afterAll(async () => testServer?.close());

  it(
    "policy default prints a policy named default",
    async () => {
      const result = await runCli(["policy", "default"]);
      expect(result.code).toBe(0);
      expect(result.stdout).toMatch(/^name: default$/m);
      expect(result.stdout).toMatch(/^ {2}immediateGrace: 4h$/m);
    },
    CLI_TIMEOUT,
  );

  it(
    "policy validate refuses waves past 100% with the location, and warns about empty phases",
    async () => {
      const waves = file(
        "waves.yaml",
        "rollout:\n  phases:\n    - canary: 1\n    - wave: 50%\n    - wave: 75%\n",
      );
      const bad = await runCli(["policy", "validate", waves]);
      expect(bad.code).toBe(2);
      expect(bad.stderr).toContain(`${waves}:5:13: rollout.phases[2].wave: the waves add up to 125%`);

      const small = file("small.yaml", "name: small\nrollout:\n  typicalFleetSize: 3\n");
      const warned = await runCli(["policy", "validate", small]);
      expect(warned.code).toBe(0);
      expect(warned.stdout).toBe(`${small}: valid (1 warning)\n`);
      expect(warned.stderr).toContain(
        "warning: rollout.phases[1] (wave 25%) would be empty for a fleet of 3 assets",
      );
      // The flag overrides the policy's size.
      const big = await runCli(["policy", "validate", small, "--fleet-size", "50", "--json"]);
      expect(JSON.parse(big.stdout)).toEqual({ ok: true, errors: [], warnings: [] });
    },
    CLI_TIMEOUT,
  );

  it(
    "policy apply prints what it changes; policy diff shows it before, storing nothing",
    async () => {
      const path = file("strict.yaml", "name: strict\nclassification:\n  immediateGrace: 30m\n");
      const first = await runCli(["policy", "apply", path], env);
      expect(first.code, first.stderr).toBe(0);
      expect(first.stdout).toContain("--- /dev/null\n");
      expect(first.stdout).toContain("+name: strict\n");
      expect(first.stdout).toContain("applied: strict@1");

      writeFileSync(path, "name: strict\nclassification:\n  immediateGrace: 2h\n  sla: {high: 1d}\n");
      const planned = await runCli(["policy", "diff", "strict", path], env);
      expect(planned.code, planned.stderr).toBe(0);
      expect(planned.stdout).toContain("--- strict@1\n");
      expect(planned.stdout).toContain("-  immediateGrace: 30m\n+  immediateGrace: 2h\n");
      expect(planned.stdout).toContain("Sections changed: classification\n");
      expect(planned.stdout).toContain('  classification: immediateGrace "30m" -> "2h"\n');
      expect(planned.stdout).toContain('  classification: sla.high "7d" -> "1d"\n');
      const listed = JSON.parse((await runCli(["policy", "list", "--json"], env)).stdout) as Array<{
        name: string;
        version: number;
      }>;
      expect(listed.find((p) => p.name === "strict")?.version).toBe(1);

      const applied = await runCli(["policy", "apply", path], env);
      expect(applied.stdout).toContain("-  immediateGrace: 30m\n+  immediateGrace: 2h\n");
      expect(applied.stdout).toContain("applied: strict@2");
      // Without a file: what the latest version changed against the one before it.
      const last = JSON.parse((await runCli(["policy", "diff", "strict", "--json"], env)).stdout) as {
        from: string;
        to: string;
        sections: Array<{ section: string }>;
      };
      expect(last).toMatchObject({
        from: "strict@1",
        to: "strict@2",
        sections: [{ section: "classification" }],
      });

      // A comment changes lines, not meaning.
      writeFileSync(
        path,
        "# tighter\nname: strict\nclassification:\n  immediateGrace: 2h\n  sla: {high: 1d}\n",
      );
      const comment = await runCli(["policy", "diff", "strict", path], env);
      expect(comment.stdout).toContain("+# tighter\n");
      expect(comment.stdout).toContain("No change in meaning.\n");
    },
    CLI_TIMEOUT,
  );

  it(
    "policy use chooses the findings policy, shown in policy list",
    async () => {
      const before = await runCli(["policy", "list"], env);
      expect(before.stdout).toContain("findings use the built-in policy");
      const used = await runCli(["policy", "use", "strict"], env);
      expect(used.code, used.stderr).toBe(0);
      expect(used.stdout).toBe("findings now use strict@2 (was the built-in policy)\n");
      const listed = JSON.parse((await runCli(["policy", "list", "--json"], env)).stdout) as Array<{
        name: string;
        findings: boolean;
      }>;
      expect(listed.filter((p) => p.findings).map((p) => p.name)).toEqual(["strict"]);
      const table = await runCli(["policy", "list"], env);
      const row = (name: string) => table.stdout.split("\n").find((l) => l.includes(` ${name} `)) ?? "";
      expect(row("strict")).toMatch(/\s\*\s/);
      expect(row("default")).not.toMatch(/\s\*\s/);
      const missing = await runCli(["policy", "use", "nope"], env);
      expect(missing.code).not.toBe(0);
      expect(missing.stderr).toContain('no policy named "nope"');
    },
    CLI_TIMEOUT,
  );

  it(
    "windows next and check read a stored policy by name; check defaults to now",
    async () => {
      const calendar = file(
        "calendar.yaml",
        "name: calendar\nmaintenanceWindows:\n  - {name: nightly, cron: '0 1 * * *', duration: 2h, timezone: UTC}\n" +
          "freezes:\n  - {name: forever, from: '2000-01-01T00:00', to: '2100-01-01T00:00', timezone: UTC}\n",
      );
      expect((await runCli(["policy", "apply", calendar], env)).code).toBe(0);
      for (const ref of ["calendar", "calendar@1", calendar]) {
        const check = await runCli(["windows", "check", "--policy", ref], env);
        expect(check.code, `${ref}: ${check.stderr}`).toBe(1);
        expect(check.stdout).toContain('DENIED: frozen by "forever"');
        const next = await runCli(["windows", "next", "--policy", ref, "--json"], env);
        expect(next.code, next.stderr).toBe(0);
        expect(JSON.parse(next.stdout)).toEqual([]);
      }
      const at = await runCli(
        ["windows", "check", "--policy", "strict", "--at", "2026-11-28T01:00Z", "--json"],
        env,
      );
      expect(JSON.parse(at.stdout)).toMatchObject({ allowed: true });
      const unknown = await runCli(["windows", "check", "--policy", "nope"], env);
      expect(unknown.stderr).toContain('no policy named "nope"');
      const noFile = await runCli(["windows", "check", "--policy", "./nope.yaml"]);
      expect(noFile.stderr).toContain("policy file not found: ./nope.yaml");
    },
    CLI_TIMEOUT,
  );
});
