import { execFile, execFileSync } from "node:child_process";
import { chmodSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PRODUCT_VERSION } from "../src/domain/product-version.js";
import { MIGRATIONS } from "../src/store/migrations/index.js";
import { runCli } from "./helpers/cli.js";
import { startTestServer, type TestServer } from "./helpers/server.js";

const FIXTURES = join(import.meta.dirname, "fixtures", "data");
const ADMIN = "apt_contexts-test-admin-token-0123456789";

describe("contexts, version and completion against a real server", () => {
  let server: TestServer | undefined;
  let url: string;
  let dir: string;
  let config: string;
  /** Only the config file: no AUTOPATCH_SERVER or AUTOPATCH_TOKEN. */
  let cfg: Record<string, string>;

  beforeAll(async () => {
    server = await startTestServer("contexts", ADMIN);
    url = server.server.url;
    dir = mkdtempSync(join(tmpdir(), "autopatch-contexts-"));
    config = join(dir, "config.yaml");
    cfg = { AUTOPATCH_CONFIG: config };
    const status = join(FIXTURES, "dpkg", "debian12-bookworm-node-image.status");
    const imported = await runCli(
      ["inventory", "import", status, "--asset", "web-1", "--ecosystem", "Debian:12", "--json"],
      server.env,
    );
    expect(imported.code, imported.stderr).toBe(0);
  });
  afterAll(async () => {
    await server?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("set-context writes a private file and the current context's server and token are used", async () => {
    const set = await runCli(["config", "set-context", "lab", "--server", url, "--token", ADMIN], cfg);
    expect(set.code, set.stderr).toBe(0);
    expect(statSync(config).mode & 0o777).toBe(0o600);
    expect((await runCli(["config", "current-context"], cfg)).stdout).toBe("lab\n");
    const list = await runCli(["assets", "list", "--json"], cfg);
    expect(list.code, list.stderr).toBe(0);
    expect((JSON.parse(list.stdout) as Array<{ name: string }>).map((a) => a.name)).toEqual(["web-1"]);
  });

  it("a token can come from a command or a private file instead of the config", async () => {
    const tokenFile = join(dir, "lab.token");
    writeFileSync(tokenFile, `${ADMIN}\n`, { mode: 0o600 });
    await runCli(["config", "set-context", "by-file", "--server", url, "--token-file", tokenFile], cfg);
    await runCli(
      ["config", "set-context", "by-command", "--server", url, "--token-command", `cat '${tokenFile}'`],
      cfg,
    );
    for (const context of ["by-file", "by-command"]) {
      const show = await runCli(["assets", "show", "web-1", "--json", "--context", context], cfg);
      expect(show.code, `${context}: ${show.stderr}`).toBe(0);
      expect(JSON.parse(show.stdout)).toMatchObject({ name: "web-1" });
    }
    chmodSync(tokenFile, 0o640);
    const refused = await runCli(["assets", "list", "--context", "by-file"], cfg);
    expect(refused.code).toBe(5);
    expect(refused.stderr).toContain(`chmod 600 ${tokenFile}`);
    chmodSync(tokenFile, 0o600);
    await runCli(
      ["config", "set-context", "failing", "--server", url, "--token-command", "echo nope >&2; exit 3"],
      cfg,
    );
    const failed = await runCli(["assets", "list", "--context", "failing"], cfg);
    expect(failed.code).toBe(2);
    expect(failed.stderr).toContain("nope");
  });

  it("refuses a config file that group or others can read, naming chmod 600, as ssh does for keys", async () => {
    for (const mode of [0o644, 0o640, 0o604, 0o620]) {
      chmodSync(config, mode);
      const refused = await runCli(["assets", "list", "--json"], cfg);
      expect(refused.code, mode.toString(8)).toBe(5);
      expect(refused.stderr).toContain(`chmod 600 ${config}`);
      expect(refused.stdout).toBe("");
      expect((await runCli(["config", "get-contexts"], cfg)).code).toBe(5);
    }
    chmodSync(config, 0o600);
    expect((await runCli(["assets", "list"], cfg)).code).toBe(0);
  });

  it("flags win over the environment, which wins over the context", async () => {
    // The context points at a closed port with a wrong token; env and flags repair it one at a time.
    await runCli(
      ["config", "set-context", "broken", "--server", "http://127.0.0.1:1", "--token", "apt_wrong", "--use"],
      cfg,
    );
    const viaContext = await runCli(["assets", "list"], cfg);
    expect(viaContext.stderr).toContain("http://127.0.0.1:1");
    expect(viaContext.code).toBe(1);

    const envServer = await runCli(["assets", "list"], { ...cfg, AUTOPATCH_SERVER: url });
    expect(envServer.code).toBe(5); // reached the server; the context's token is wrong
    const envBoth = await runCli(["assets", "list", "--json"], {
      ...cfg,
      AUTOPATCH_SERVER: url,
      AUTOPATCH_TOKEN: ADMIN,
    });
    expect(envBoth.code, envBoth.stderr).toBe(0);

    const flagsOverEnv = await runCli(["assets", "list", "--json", "--server", url, "--token", ADMIN], {
      ...cfg,
      AUTOPATCH_SERVER: "http://127.0.0.1:1",
      AUTOPATCH_TOKEN: "apt_wrong",
    });
    expect(flagsOverEnv.code, flagsOverEnv.stderr).toBe(0);
    const flagContext = await runCli(["assets", "list", "--json", "--context", "lab"], cfg);
    expect(flagContext.code, flagContext.stderr).toBe(0);
    const envContext = await runCli(["assets", "list", "--json"], { ...cfg, AUTOPATCH_CONTEXT: "lab" });
    expect(envContext.code, envContext.stderr).toBe(0);
    const unknown = await runCli(["assets", "list", "--context", "nope"], cfg);
    expect(unknown.code).toBe(3);
    expect(unknown.stderr).toContain('no context "nope"');

    // Explicit flags need no config file at all, even an unprotected one.
    chmodSync(config, 0o644);
    expect((await runCli(["assets", "list", "--server", url, "--token", ADMIN], cfg)).code).toBe(0);
    chmodSync(config, 0o600);
    expect((await runCli(["config", "use-context", "lab"], cfg)).code).toBe(0);
  });

  it("a context's default output applies unless a flag or $AUTOPATCH_OUTPUT says otherwise", async () => {
    await runCli(["config", "set-context", "lab", "--output", "json"], cfg);
    const list = await runCli(["assets", "list"], cfg);
    expect(list.code, list.stderr).toBe(0);
    expect(JSON.parse(list.stdout)).toHaveLength(1);
    const contexts = JSON.parse((await runCli(["config", "get-contexts", "--json"], cfg)).stdout) as Array<{
      name: string;
      current: boolean;
      output: string | null;
    }>;
    expect(contexts.find((c) => c.current)).toMatchObject({ name: "lab", output: "json" });
    expect(readFileSync(config, "utf8")).toContain("current-context: lab");
    const table = await runCli(["assets", "list"], { ...cfg, AUTOPATCH_OUTPUT: "table" });
    expect(() => JSON.parse(table.stdout)).toThrow();
    expect(table.stdout).toContain("web-1");
  });

  it("`autopatch version` prints the client's and the server's version and schema version", async () => {
    const report = await runCli(["version", "--json"], cfg);
    expect(report.code, report.stderr).toBe(0);
    const latest = Object.keys(MIGRATIONS).sort().at(-1);
    expect(JSON.parse(report.stdout)).toMatchObject({
      client: { version: PRODUCT_VERSION },
      server: { url, version: PRODUCT_VERSION, schema: { current: latest, latest }, dialect: "sqlite" },
    });
    const text = await runCli(["version"], cfg);
    expect(text.stdout).toMatch(new RegExp(`^server: +${PRODUCT_VERSION} at ${url}$`, "m"));
    expect(text.stdout).toMatch(new RegExp(`^schema: +${latest} `, "m"));
    expect((await runCli(["--version"], cfg)).stdout.trim()).toBe(PRODUCT_VERSION);

    const unreachable = await runCli(["version", "--json", "--server", "http://127.0.0.1:1"], cfg);
    expect(unreachable.code).toBe(0);
    expect(JSON.parse(unreachable.stdout)).toMatchObject({
      client: { version: PRODUCT_VERSION },
      server: null,
    });
    expect(JSON.parse((await runCli(["version", "--client", "-o", "json"], cfg)).stdout).server).toBeNull();
  });

  it("the bash completion script loads and completes commands, subcommands and the server's names", async () => {
    const script = (await runCli(["completion", "bash"], cfg)).stdout;
    const file = join(dir, "autopatch.bash");
    writeFileSync(file, script);
    execFileSync("bash", ["-n", file]);
    // A bash session with `autopatch` on its PATH, completing as the shell would on <TAB>.
    const bin = join(dir, "bin");
    execFileSync("mkdir", ["-p", bin]);
    writeFileSync(
      join(bin, "autopatch"),
      `#!/bin/sh\nexec "${process.execPath}" "${join(import.meta.dirname, "..", "bin", "autopatch.js")}" "$@"\n`,
      { mode: 0o755 },
    );
    // Asynchronously: the server answering the completion runs in this process.
    const bash = async (line: string) =>
      (
        await promisify(execFile)("bash", ["--norc", "--noprofile", "-c", `source '${file}'; ${line}`], {
          env: { PATH: `${bin}:${process.env.PATH}`, AUTOPATCH_CONFIG: config, HOME: dir },
          encoding: "utf8",
        })
      ).stdout;
    expect(await bash("complete -p autopatch")).toContain("-F _autopatch_complete autopatch");
    const tab = async (...words: string[]) =>
      (
        await bash(
          `COMP_WORDS=(autopatch ${words.map((w) => `'${w}'`).join(" ")}); COMP_CWORD=${words.length}; _autopatch_complete; printf '%s\\n' "\${COMPREPLY[@]}"`,
        )
      )
        .split("\n")
        .filter(Boolean);
    expect(await tab("rollout", "s")).toEqual(["show", "skip", "stop-all"]);
    expect(await tab("assets", "show", "")).toEqual(["web-1"]);
    expect(await tab("assets", "list", "--sel")).toEqual(["--selector"]);
  });

  it("__complete returns commands, subcommands, choices and names", async () => {
    const complete = async (...words: string[]) =>
      (await runCli(["__complete", ...words], cfg)).stdout.split("\n").filter(Boolean);
    const top = await complete("");
    expect(top).toEqual(
      expect.arrayContaining(["assets", "change", "rollout", "config", "version", "completion"]),
    );
    expect(top).not.toContain("__complete");
    expect(await complete("config", "")).toEqual(
      expect.arrayContaining(["set-context", "use-context", "get-contexts", "current-context"]),
    );
    expect(await complete("completion", "")).toEqual(["bash", "zsh", "fish"]);
    expect(await complete("config", "set-context", "x", "--output", "")).toEqual([
      "table",
      "wide",
      "json",
      "yaml",
    ]);
    expect(await complete("assets", "show", "we")).toEqual(["web-1"]);
    // The command line's own --server is the one asked (here: nobody listens).
    expect(await complete("assets", "show", "--server", "http://127.0.0.1:1", "")).toEqual([]);
    const help = await runCli(["--help"], cfg);
    expect(help.stdout).not.toContain("__complete");
  });
});
