import { createInterface } from "node:readline";
import type { Command } from "commander";
import { ValidationError } from "../../domain/errors.js";
import { judgeLine, ORDERING_SYMBOL } from "../../ecosystems/batch-compare.js";
import { ECOSYSTEM_ALIASES, OSV_ECOSYSTEMS, schemeForEcosystem } from "../../ecosystems/registry.js";
import { withOutputFlags } from "../output/options.js";
import { printJson, printTable } from "../output.js";

// Output is flushed in chunks of this many lines: one write per line is what makes 100,000 lines slow.
const CHUNK_LINES = 4096;

/** Reads `a<TAB>b` lines from `input` and writes one verdict per line to `output`. */
async function compareStream(
  ecosystem: string,
  input: NodeJS.ReadableStream,
  output: NodeJS.WritableStream,
): Promise<void> {
  const scheme = schemeForEcosystem(ecosystem);
  const lines = createInterface({ input, crlfDelay: Number.POSITIVE_INFINITY });
  let buffer: string[] = [];
  const flush = async (): Promise<void> => {
    if (buffer.length === 0) return;
    const text = `${buffer.join("\n")}\n`;
    buffer = [];
    // Respect back-pressure so a slow reader does not make us hold the whole answer in memory.
    if (!output.write(text)) await new Promise<void>((resolve) => output.once("drain", () => resolve()));
  };
  for await (const line of lines) {
    buffer.push(judgeLine(scheme, line));
    if (buffer.length >= CHUNK_LINES) await flush();
  }
  await flush();
}

/** Registers `autopatch versions compare` and `autopatch versions list-ecosystems`. */
export function registerVersionsCommand(program: Command): void {
  const versions = program
    .command("versions")
    .description(
      "Parse and order package versions as each ecosystem's own tool does (dpkg, rpm, npm, pip, …).",
    );

  versions
    .command("compare")
    .description("Compare two versions of an ecosystem and print <, = or >.")
    .argument(
      "<ecosystem>",
      "OSV ecosystem (Debian:12, Red Hat, npm, PyPI, Maven, Go, …) or alias (deb, rpm, cargo, …)",
    )
    .argument("[a]", "first version")
    .argument("[b]", "second version")
    .option(
      "--stdin",
      "read lines 'a<TAB>b' from stdin and print one of <, =, > or 'error: <reason>' per line",
    )
    .addHelpText(
      "after",
      [
        "",
        "An invalid version exits with status 2 (without --stdin); with --stdin each bad line gets an error line.",
      ].join("\n"),
    )
    .action(
      async (ecosystem: string, a: string | undefined, b: string | undefined, opts: { stdin?: boolean }) => {
        if (opts.stdin) {
          if (a !== undefined || b !== undefined) {
            throw new ValidationError("give either two versions or --stdin, not both");
          }
          await compareStream(ecosystem, process.stdin, process.stdout);
          return;
        }
        if (a === undefined || b === undefined) {
          throw new ValidationError("give two versions to compare, or --stdin to read 'a<TAB>b' lines");
        }
        process.stdout.write(`${ORDERING_SYMBOL[schemeForEcosystem(ecosystem).compare(a, b)]}\n`);
      },
    );

  withOutputFlags(
    versions
      .command("list-ecosystems")
      .description("List the supported OSV ecosystem names, their aliases and the version scheme each uses.")
      .addHelpText(
        "after",
        "\nOSV names also accept a release suffix (Debian:12, Ubuntu:22.04:LTS, AlmaLinux:9).",
      ),
  ).action((opts: { json?: boolean }) => {
    const rows = [
      ...OSV_ECOSYSTEMS.map((e) => ({
        name: e.name,
        kind: "ecosystem",
        ecosystem: e.name,
        scheme: e.scheme,
      })),
      ...ECOSYSTEM_ALIASES.map((a) => ({
        name: a.alias,
        kind: "alias",
        ecosystem: a.ecosystem,
        scheme: schemeForEcosystem(a.alias).id,
      })),
    ];
    if (opts.json) {
      printJson(rows);
      return;
    }
    printTable(rows, [
      { header: "name", value: (r) => r.name },
      { header: "kind", value: (r) => r.kind },
      { header: "ecosystem", value: (r) => r.ecosystem },
      { header: "scheme", value: (r) => r.scheme },
    ]);
  });
}
