import type { Command } from "commander";
import type { ApiTokenInfo } from "../../auth/tokens.js";
import { ROLES } from "../../domain/roles.js";
import { type ClientFlags, clientFrom, withClientFlags } from "../common.js";
import { printJson, printTable } from "../output.js";

export function registerTokenCommands(program: Command): void {
  const token = program.command("token").description("Manage API tokens (admin)");
  withClientFlags(
    token
      .command("create")
      .description("Create an API token; it is printed once and stored only as a hash")
      .option("--name <name>", "what the token is for", "cli")
      .option("--role <role>", `one of ${ROLES.join(", ")}`, "viewer"),
  ).action(async (flags: ClientFlags & { name: string; role: string }) => {
    const created = await clientFrom(flags).post<{ id: string; token: string }>("/api/v1/tokens", {
      name: flags.name,
      role: flags.role,
    });
    if (flags.json) return printJson(created);
    process.stdout.write(`token (shown once): ${created.token}\nid: ${created.id}\n`);
  });
  withClientFlags(token.command("list").description("List tokens (never their secrets)")).action(
    async (flags: ClientFlags) => {
      const list = await clientFrom(flags).get<ApiTokenInfo[]>("/api/v1/tokens");
      if (flags.json) return printJson(list);
      printTable(list, [
        { header: "ID", value: (t) => t.id },
        { header: "NAME", value: (t) => t.name },
        { header: "ROLE", value: (t) => t.role },
        { header: "CREATED", value: (t) => t.createdAt },
        { header: "LAST USED", value: (t) => t.lastUsedAt ?? "never" },
        { header: "REVOKED", value: (t) => t.revokedAt ?? "" },
      ]);
    },
  );
  withClientFlags(token.command("revoke <id>").description("Revoke a token")).action(
    async (id: string, flags: ClientFlags) => {
      await clientFrom(flags).delete(`/api/v1/tokens/${encodeURIComponent(id)}`);
      if (flags.json) return printJson({ revoked: id });
      process.stdout.write(`revoked ${id}\n`);
    },
  );
}
