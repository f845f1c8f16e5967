import { execFile } from "node:child_process";
import { constants } from "node:fs";
import { access, stat } from "node:fs/promises";
import { delimiter, join } from "node:path";
import { AppError } from "../domain/errors.js";

export interface ToolResult {
  stdout: string;
  stderr: string;
}

/** Hints printed when a Debian tool is not on PATH: every tool but dpkg-repack ships in the `dpkg` package. */
const INSTALL_HINT: Record<string, string> = {
  dpkg: "apt-get install dpkg",
  "dpkg-deb": "apt-get install dpkg (dpkg-deb ships in the dpkg package; dpkg-dev adds the build helpers)",
  "dpkg-query": "apt-get install dpkg",
  "dpkg-repack": "apt-get install dpkg-repack",
  fakeroot: "apt-get install fakeroot (dpkg-repack needs it when not run as root)",
};

/**
 * The tools a tool runs in turn, looked for first: without them dpkg stops with a bare "not found in
 * PATH", and dpkg-repack exits 0 having built nothing, neither saying how to get the tool.
 */
function toolsCalledBy(file: string): string[] {
  if (file === "dpkg") return ["dpkg-deb"];
  if (file === "dpkg-repack")
    return ["dpkg-query", "dpkg-deb", ...(process.getuid?.() === 0 ? [] : ["fakeroot"])];
  return [];
}

function missingTool(file: string, cause?: unknown): AppError {
  const hint = INSTALL_HINT[file] ?? `install ${file}`;
  return new AppError("unsupported", `requires ${file} on PATH: ${hint}`, {
    ...(cause === undefined ? {} : { cause }),
    details: { command: file },
  });
}

/**
 * Tools found, by PATH and name: an agent runs dpkg on every operation, and once found a tool is not
 * looked for again under the same PATH (a missing one is, so that installing it takes effect).
 */
const FOUND = new Set<string>();

/** True when an executable file `name` is in a folder of PATH. */
async function onPath(name: string, path: string | undefined): Promise<boolean> {
  const key = `${path ?? ""}\u0000${name}`;
  if (FOUND.has(key)) return true;
  for (const dir of (path ?? "").split(delimiter)) {
    if (dir === "") continue;
    const candidate = join(dir, name);
    try {
      await access(candidate, constants.X_OK);
      if ((await stat(candidate)).isFile()) {
        FOUND.add(key);
        return true;
      }
    } catch {
      // not in this folder
    }
  }
  return false;
}

/**
 * Runs a dpkg tool with an argument array (never a shell) and returns its output. Failures throw an
 * AppError("internal") whose message carries the tool's stderr, because that is the only place dpkg
 * says what went wrong.
 */
export async function runDpkgTool(
  file: string,
  args: readonly string[],
  options: { env?: Record<string, string>; allowExitCodes?: readonly number[]; cwd?: string } = {},
): Promise<ToolResult & { exitCode: number }> {
  const path = options.env?.PATH ?? process.env.PATH;
  for (const tool of toolsCalledBy(file)) if (!(await onPath(tool, path))) throw missingTool(tool);
  return new Promise((resolve, reject) => {
    execFile(
      file,
      [...args],
      {
        // LC_ALL=C keeps dpkg's messages and field output stable whatever the caller's locale.
        env: { ...process.env, LC_ALL: "C", ...options.env },
        maxBuffer: 64 * 1024 * 1024,
        ...(options.cwd === undefined ? {} : { cwd: options.cwd }),
        encoding: "utf8",
      },
      (error, stdout, stderr) => {
        if (!error) {
          resolve({ stdout, stderr, exitCode: 0 });
          return;
        }
        const code = (error as NodeJS.ErrnoException).code;
        if (code === "ENOENT") {
          reject(missingTool(file, error));
          return;
        }
        const exitCode = typeof code === "number" ? code : -1;
        if (options.allowExitCodes?.includes(exitCode)) {
          resolve({ stdout, stderr, exitCode });
          return;
        }
        reject(
          new AppError("internal", `${file} ${args.join(" ")} failed (exit ${exitCode}): ${stderr.trim()}`, {
            cause: error,
            details: { command: file, args: [...args], exitCode, stderr },
          }),
        );
      },
    );
  });
}

/** A dpkg-query --showformat of tab-separated fields, one package per line (dpkg expands \t and \n). */
export function dpkgQueryFormat(fields: readonly string[]): string {
  // dpkg-query's own ${field} syntax, not a JavaScript template.
  return `${fields.map((f) => `\${${f}}`).join("\\t")}\\n`;
}
