import type { Command } from "commander";
import type { CreatedEnrollmentToken, EnrollmentTokenInfo } from "../../auth/enrollment-tokens.js";
import { listAll } from "../../client/list-all.js";
import { type ClientFlags, clientFrom, parseDurationFlag, withClientFlags } from "../common.js";
import { paintState } from "../output/color.js";
import { formatAge, formatTime } from "../output/time.js";
import { printFields, printJson, printTable } from "../output.js";

function assetsText(t: EnrollmentTokenInfo): string {
  const names = t.assets.map((a) => a.assetName).join(",");
  return t.assetCount > t.assets.length ? `${names},… (${t.assetCount})` : names;
}

export function registerAgentTokenCommands(program: Command): void {
  const agentToken = program
    .command("agent-token")
    .description("Manage agent enrollment tokens (admin): create, list, show, revoke");
  withClientFlags(
    agentToken
      .command("create")
      .description(
        "Create an enrollment token for `autopatch agent --enroll-token`. It expires (reusable ones too) " +
          "and never enrolls an agent as an existing asset unless `autopatch assets reenroll` allowed it.",
      )
      .option("--reusable", "enroll any number of agents with it (e.g. baked into an image)")
      .option("--ttl <duration>", "lifetime, e.g. 7d (default 24h, at most a year)"),
  ).action(async (flags: ClientFlags & { reusable?: boolean; ttl?: string }) => {
    const created = await clientFrom(flags).post<CreatedEnrollmentToken>("/api/v1/agent-tokens", {
      reusable: Boolean(flags.reusable),
      ...(flags.ttl ? { ttlSeconds: Math.ceil(parseDurationFlag(flags.ttl, "--ttl") / 1000) } : {}),
    });
    if (flags.json) return printJson(created);
    process.stdout.write(
      `enrollment token (shown once): ${created.token}\nid: ${created.id}\n` +
        `${flags.reusable ? "reusable" : "one-time"}, expires ${created.expiresAt}\n`,
    );
  });
  withClientFlags(
    agentToken
      .command("list")
      .description("List enrollment tokens (never their secrets) and what they enrolled"),
  ).action(async (flags: ClientFlags) => {
    const list = await listAll(clientFrom(flags), "/api/v1/agent-tokens");
    if (flags.json) return printJson(list);
    printTable(list, [
      { header: "ID", value: (t) => t.id },
      { header: "STATUS", value: (t) => t.status, paint: paintState },
      { header: "REUSABLE", value: (t) => (t.reusable ? "yes" : "no") },
      { header: "CREATED", value: (t) => formatAge(t.createdAt) },
      { header: "EXPIRES", value: (t) => formatAge(t.expiresAt) },
      { header: "EXPIRES AT", value: (t) => formatTime(t.expiresAt), wide: true },
      { header: "USES", value: (t) => t.useCount },
      { header: "ASSETS", value: assetsText },
    ]);
  });
  withClientFlags(
    agentToken.command("show <id>").description("Show an enrollment token and every asset it enrolled"),
  ).action(async (id: string, flags: ClientFlags) => {
    const t = await clientFrom(flags).get<EnrollmentTokenInfo>(
      `/api/v1/agent-tokens/${encodeURIComponent(id)}`,
    );
    if (flags.json) return printJson(t);
    printFields([
      ["id", t.id],
      ["status", t.status],
      ["reusable", t.reusable ? "yes" : "no"],
      ["created", `${t.createdAt} by ${t.createdBy}`],
      ["expires", t.expiresAt ?? ""],
      ["revoked", t.revokedAt ?? ""],
      ["uses", String(t.useCount)],
    ]);
    printTable(t.assets, [
      { header: "ASSET", value: (a) => a.assetName },
      { header: "ENROLLED", value: (a) => formatTime(a.enrolledAt) },
      { header: "RE-ENROLLED", value: (a) => (a.reenrolled ? "yes" : "") },
    ]);
  });
  withClientFlags(
    agentToken
      .command("revoke <id>")
      .description("Revoke an enrollment token; agents it enrolled keep their own credentials"),
  ).action(async (id: string, flags: ClientFlags) => {
    await clientFrom(flags).delete(`/api/v1/agent-tokens/${encodeURIComponent(id)}`);
    if (flags.json) return printJson({ revoked: id });
    process.stdout.write(`revoked ${id}\n`);
  });
}
