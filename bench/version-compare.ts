/**
 * Benchmark: comparisons per second per version scheme over the versions in the published vector files, then the
 * CLI's `versions compare --stdin` path on 100,000 generated lines through the built CLI (when dist/ exists).
 * Run: npx tsx bench/version-compare.ts [--json]   (--json also prints the figures as one JSON object)
 */
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { loadavg } from "node:os";
import { fileURLToPath } from "node:url";
import { SCHEMES } from "../src/ecosystems/registry.js";
import { vectorVersions } from "../src/ecosystems/vector-file.js";

const DIR = new URL("../test/fixtures/data/testvectors/osv-scalibr-semantic/", import.meta.url);
const COMPARISONS = 200_000;
const JSON_OUTPUT = process.argv.includes("--json");
let cliFigure: { how: string; lines: number; seconds: number } | { how: string; failed: string } | undefined;

interface Row {
  scheme: string;
  comparisons: number;
  seconds: number;
}

const rows: Row[] = [];
for (const [id, scheme] of SCHEMES) {
  const versions = vectorVersions(DIR, id === "go" ? "semver" : id).filter((v) => scheme.isValid(v));
  // Warm up so the JIT has compiled the comparison before timing.
  for (let i = 0; i < 10_000; i++)
    scheme.compare(versions[i % versions.length] as string, versions[(i * 7) % versions.length] as string);
  const started = process.hrtime.bigint();
  let sink = 0;
  for (let i = 0; i < COMPARISONS; i++) {
    sink += scheme.compare(
      versions[i % versions.length] as string,
      versions[(i * 31 + 17) % versions.length] as string,
    );
  }
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  if (sink === Number.MAX_SAFE_INTEGER) console.log(sink); // keeps the loop from being optimised away
  rows.push({ scheme: id, comparisons: COMPARISONS, seconds });
}

const pad = (s: string, n: number) => s.padEnd(n);
console.log(`${pad("scheme", 8)} ${pad("comparisons", 12)} ${pad("seconds", 8)} comparisons/s`);
for (const r of rows) {
  console.log(
    `${pad(r.scheme, 8)} ${pad(String(r.comparisons), 12)} ${pad(r.seconds.toFixed(3), 8)} ${Math.round(r.comparisons / r.seconds).toLocaleString("en")}`,
  );
}

const cli = fileURLToPath(new URL("../bin/autopatch.js", import.meta.url));
const built = fileURLToPath(new URL("../dist/cli/commands/versions.js", import.meta.url));
if (!existsSync(built)) {
  console.log("\nCLI --stdin: skipped (dist/cli/commands/versions.js not found; run `npm run build` first)");
} else {
  const lines: string[] = [];
  for (let i = 0; i < 100_000; i++)
    lines.push(`${i % 5}:1.${i % 97}.${i % 13}-${i % 7}\t1:1.${i % 89}.3-1~deb12u${i % 3}`);
  const input = `${lines.join("\n")}\n`;
  const run = (args: string[]) => {
    const started = process.hrtime.bigint();
    const result = spawnSync(process.execPath, args, { input, encoding: "utf8", maxBuffer: 1 << 26 });
    return { result, seconds: Number(process.hrtime.bigint() - started) / 1e9 };
  };
  let how = "bin/autopatch.js";
  let { result, seconds } = run([cli, "versions", "compare", "Debian", "--stdin"]);
  if (/unknown command 'versions'/.test(result.stderr)) {
    // main.ts does not register the command yet: drive the built command module through commander directly.
    how = "dist/cli/commands/versions.js (not yet wired into main.ts)";
    const harness = [
      'const { Command } = await import("commander");',
      `const { registerVersionsCommand } = await import(${JSON.stringify(new URL("../dist/cli/commands/versions.js", import.meta.url).href)});`,
      'const program = new Command("autopatch");',
      "registerVersionsCommand(program);",
      'await program.parseAsync(["node", "autopatch", "versions", "compare", "Debian", "--stdin"]);',
    ].join("\n");
    ({ result, seconds } = run(["--input-type=module", "-e", harness]));
  }
  const answers = result.stdout.split("\n").filter((l) => l !== "").length;
  if (result.status !== 0 || answers !== lines.length) {
    console.log(
      `\nCLI --stdin via ${how}: failed (exit ${result.status}, ${answers} answers): ${result.stderr.slice(0, 300)}`,
    );
    cliFigure = { how, failed: `exit ${result.status}, ${answers} answers` };
  } else {
    cliFigure = { how, lines: lines.length, seconds };
    const rate = Math.round(lines.length / seconds).toLocaleString("en");
    console.log(
      `\nCLI --stdin via ${how}: ${lines.length} lines in ${seconds.toFixed(2)} s (${rate} lines/s, with Node start-up)`,
    );
  }
}

if (JSON_OUTPUT)
  console.log(
    JSON.stringify({
      node: process.version,
      loadAverage: loadavg(),
      schemes: rows.map((r) => ({ ...r, perSecond: Math.round(r.comparisons / r.seconds) })),
      cli: cliFigure ?? null,
    }),
  );
