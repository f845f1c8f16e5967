// Writes docs/cli.md from the CLI's own definitions (a test checks it is up to date).
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { cliReference } from "../src/cli/help/docs.js";
import { buildProgram } from "../src/cli/main.js";

writeFileSync(join(import.meta.dirname, "..", "docs", "cli.md"), cliReference(await buildProgram()));
