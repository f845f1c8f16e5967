import type { Command } from "commander";
import type { PrincipalInfo } from "../../auth/principals.js";
import { listAll } from "../../client/list-all.js";
import { type ClientFlags, clientFrom, withClientFlags } from "../common.js";
import { formatAge, formatTime } from "../output/time.js";
import { printJson, printTable } from "../output.js";

export function registerPrincipalCommands(program: Command): void {
  const principal = program
    .command("principal")
    .description("People and service accounts that tokens belong to (admin)");
  withClientFlags(
    principal.command("list").description("List principals with their number of active tokens"),
  ).action(async (flags: ClientFlags) => {
    const list = await listAll(clientFrom(flags), "/api/v1/principals");
    if (flags.json) return printJson(list);
    printTable(list, [
      { header: "NAME", value: (p) => p.name },
      { header: "KIND", value: (p) => p.kind },
      { header: "ACTIVE TOKENS", value: (p) => p.activeTokens },
      { header: "CREATED", value: (p) => formatAge(p.createdAt) },
      { header: "CREATED BY", value: (p) => p.createdBy, wide: true },
      { header: "DISABLED", value: (p) => formatTime(p.disabledAt) },
    ]);
  });
  withClientFlags(
    principal
      .command("create <name>")
      .description("Create a principal ahead of its tokens, e.g. a service account with --kind service")
      .option("--kind <kind>", "person or service", "person"),
  ).action(async (name: string, flags: ClientFlags & { kind: string }) => {
    const created = await clientFrom(flags).post<PrincipalInfo>("/api/v1/principals", {
      name,
      kind: flags.kind,
    });
    if (flags.json) return printJson(created);
    process.stdout.write(`principal ${created.name} (${created.kind}) created\n`);
  });
  for (const action of ["disable", "enable"] as const) {
    withClientFlags(
      principal
        .command(`${action} <name>`)
        .description(
          action === "disable"
            ? "Disable a principal: none of its tokens authenticate until it is enabled again"
            : "Enable a disabled principal again",
        ),
    ).action(async (name: string, flags: ClientFlags) => {
      const info = await clientFrom(flags).post<PrincipalInfo>(
        `/api/v1/principals/${encodeURIComponent(name)}/${action}`,
        {},
      );
      if (flags.json) return printJson(info);
      process.stdout.write(`principal ${info.name} ${info.disabledAt ? "disabled" : "enabled"}\n`);
    });
  }
}
