import { spawn } from "node:child_process";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CLI_PATH } from "../../src/localfleet/fleet.js";

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs the built CLI as a user would, with a clean AUTOPATCH_* environment plus `env`. */
export function runCli(
  args: readonly string[],
  env: Record<string, string> = {},
  stdin?: string,
): Promise<CliResult> {
  const base = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith("AUTOPATCH_")));
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI_PATH, ...args], {
      // A config file of the machine's user must not leak into tests: point at one that does not exist.
      env: { ...base, AUTOPATCH_CONFIG: join(tmpdir(), "autopatch-tests-no-config.yaml"), ...env },
      stdio: ["pipe", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => {
      stdout += d.toString();
    });
    child.stderr.on("data", (d: Buffer) => {
      stderr += d.toString();
    });
    child.on("error", reject);
    child.on("close", (code) => resolve({ code: code ?? -1, stdout, stderr }));
    child.stdin.end(stdin ?? "");
  });
}
