import { Command, Option } from "@commander-js/extra-typings";
import type { Command as ProgramCommand } from "commander";
import { stringify } from "yaml";
import { ApiClient } from "../../client/api-client.js";
import { isAppError } from "../../domain/errors.js";
import { PRODUCT_VERSION } from "../../domain/product-version.js";
import type { ServerVersion } from "../../server/routes/version.js";
import { resolveConnection } from "../config/connection.js";
import { printFields, printJson } from "../output.js";

export interface VersionReport {
  client: { version: string; node: string };
  server: ({ url: string } & ServerVersion) | null;
  /** Why the server's version is missing, when it is (not reachable, no token, refused). */
  serverError?: string;
}

/** The client's version and, when a server answers, its version and schema version. */
async function versionReport(
  flags: { server?: string; token?: string; context?: string; client?: boolean },
  timeoutMs = 5_000,
): Promise<VersionReport> {
  const client = { version: PRODUCT_VERSION, node: process.version };
  if (flags.client) return { client, server: null };
  try {
    const { server, token } = resolveConnection(flags);
    const answer = await new ApiClient(server, token, timeoutMs).get<ServerVersion>("/api/v1/version");
    return { client, server: { url: server, ...answer } };
  } catch (err) {
    return { client, server: null, serverError: isAppError(err) ? err.describe() : String(err) };
  }
}

export function registerVersionCommand(program: ProgramCommand): void {
  const version = new Command("version")
    .description(
      "Print the client's version and, when a server is reachable, the server's and its schema version",
    )
    .option("--client", "the client's version only; do not ask a server")
    .option(
      "--server <url>",
      "server URL (default: $AUTOPATCH_SERVER, the context's, or http://127.0.0.1:8080)",
    )
    .option("--token <token>", "API token (default: $AUTOPATCH_TOKEN or the context's)")
    .option("--context <name>", "context of the config file to use")
    .option("--json", "print JSON for scripts")
    .addOption(
      new Option("-o, --output <format>", "output format").choices(["table", "json", "yaml"] as const),
    )
    .addHelpText("after", "\nExamples:\n  autopatch version\n  autopatch version --client -o json")
    .action(async (flags) => {
      const report = await versionReport(flags);
      const format = flags.output ?? (flags.json ? "json" : "table");
      if (format === "json") return printJson(report);
      if (format === "yaml") return void process.stdout.write(stringify(report));
      const fields: Array<readonly [string, unknown]> = [
        ["client", `${report.client.version} (node ${report.client.node})`],
      ];
      if (report.server) {
        fields.push(
          ["server", `${report.server.version} at ${report.server.url}`],
          [
            "schema",
            `${report.server.schema.current ?? "none"} (${report.server.dialect}; newest known ${report.server.schema.latest ?? "none"})`,
          ],
        );
      }
      printFields(fields);
      if (report.serverError) process.stderr.write(`server: ${report.serverError}\n`);
    });
  // The typed command is commander's own class at run time; only its declared types are richer.
  program.addCommand(version as unknown as ProgramCommand);
}
