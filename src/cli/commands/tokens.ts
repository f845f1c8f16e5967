import type { Command } from "commander";
import type { CreatedToken, TokenInput } from "../../auth/tokens.js";
import { listAll } from "../../client/list-all.js";
import { ROLES } from "../../domain/roles.js";
import { type ClientFlags, clientFrom, withClientFlags } from "../common.js";
import { formatAge, formatTime } from "../output/time.js";
import { printJson, printTable } from "../output.js";

interface CreateFlags extends ClientFlags {
  name: string;
  role: string;
  principal?: string;
  database?: string;
}

/**
 * Creates a token straight on the store, with no server and no token: the recovery when no admin token
 * is left. Only someone who can reach the database can do it; it is audited as offline, with the local user.
 */
async function createOffline(url: string, input: TokenInput): Promise<CreatedToken> {
  const [
    { hostname, userInfo },
    { createApiToken },
    { OFFLINE_ACTOR },
    { serviceContext },
    { createLogger },
    { openStore },
  ] = await Promise.all([
    import("node:os"),
    import("../../auth/tokens.js"),
    import("../../domain/roles.js"),
    import("../../service/context.js"),
    import("../../service/logger.js"),
    import("../../store/store.js"),
  ]);
  let osUser: string | null = null;
  try {
    osUser = userInfo().username;
  } catch {
    // No passwd entry for this uid (some containers): the audit event says so with null.
  }
  const store = await openStore(url);
  try {
    const ctx = serviceContext(
      store,
      createLogger({ level: process.env.AUTOPATCH_LOG_LEVEL ?? "warn", pretty: false }),
    );
    return await createApiToken(ctx, OFFLINE_ACTOR, input, {
      auditData: { offline: true, osUser, host: hostname() },
    });
  } finally {
    await store.close();
  }
}

export function registerTokenCommands(program: Command): void {
  const token = program.command("token").description("Manage API tokens (admin)");
  withClientFlags(
    token
      .command("create")
      .description(
        "Create an API token; it is printed once and stored only as a hash. It belongs to the principal " +
          "named --name unless --principal is given (created when missing). With --database it is created " +
          "directly on the store, without a server or a token: the recovery when no admin token is left.",
      )
      .option("--name <name>", "what the token is for (a-z 0-9 - _ ., compared lowercase)", "cli")
      .option("--role <role>", `one of ${ROLES.join(", ")}`, "viewer")
      .option("--principal <name>", "the person or service account it belongs to (default: --name)")
      .option("--database <url>", "create it directly on this store instead of through the server"),
  ).action(async (flags: CreateFlags) => {
    const input: TokenInput = {
      name: flags.name,
      role: flags.role,
      ...(flags.principal === undefined ? {} : { principal: flags.principal }),
    };
    const created = flags.database
      ? await createOffline(flags.database, input)
      : await clientFrom(flags).post<CreatedToken>("/api/v1/tokens", input);
    if (flags.json) return printJson(created);
    process.stdout.write(
      `token (shown once): ${created.token}\nid: ${created.id}\nname: ${created.name}\nprincipal: ${created.principal}\n`,
    );
  });
  withClientFlags(
    token.command("list").description("List tokens and their principals (never their secrets)"),
  ).action(async (flags: ClientFlags) => {
    const list = await listAll(clientFrom(flags), "/api/v1/tokens");
    if (flags.json) return printJson(list);
    printTable(list, [
      { header: "ID", value: (t) => t.id },
      { header: "NAME", value: (t) => t.name },
      { header: "PRINCIPAL", value: (t) => t.principal ?? `(agent)` },
      { header: "ROLE", value: (t) => t.role },
      { header: "CREATED", value: (t) => formatAge(t.createdAt) },
      { header: "LAST USED", value: (t) => (t.lastUsedAt ? formatAge(t.lastUsedAt) : "never") },
      { header: "REVOKED", value: (t) => formatTime(t.revokedAt) },
    ]);
  });
  withClientFlags(
    token
      .command("revoke <id>")
      .description("Revoke a token (the last active admin token cannot be revoked)"),
  ).action(async (id: string, flags: ClientFlags) => {
    await clientFrom(flags).delete(`/api/v1/tokens/${encodeURIComponent(id)}`);
    if (flags.json) return printJson({ revoked: id });
    process.stdout.write(`revoked ${id}\n`);
  });
}
