import type { Command } from "commander";
import type { AuditEvent } from "../../audit/event.js";
import { type AuditPage, listAudit, type VerifyResult, verifyAuditChain } from "../../audit/log.js";
import { AppError } from "../../domain/errors.js";
import { openStore } from "../../store/store.js";
import { type ClientFlags, clientFrom, withClientFlags } from "../common.js";
import { printJson, printTable } from "../output.js";

interface AuditFlags extends ClientFlags {
  database?: string;
}

/** Runs against the store directly with --database (offline, e.g. on a backup), else through the server. */
async function withSource<T>(
  flags: AuditFlags,
  offline: (db: Awaited<ReturnType<typeof openStore>>) => Promise<T>,
  online: () => Promise<T>,
): Promise<T> {
  if (!flags.database) return online();
  const store = await openStore(flags.database, { migrate: false });
  try {
    return await offline(store);
  } finally {
    await store.close();
  }
}

export function registerAuditCommand(program: Command): void {
  const audit = program.command("audit").description("Read and verify the hash-chained audit log");
  withClientFlags(
    audit
      .command("verify")
      .description("Check the whole chain; exits 0 when intact, 6 naming the first broken event otherwise")
      .option("--database <url>", "verify a store directly instead of asking the server"),
  ).action(async (flags: AuditFlags) => {
    const result = await withSource<VerifyResult>(
      flags,
      (store) => verifyAuditChain(store.db),
      () => clientFrom(flags).get<VerifyResult>("/api/v1/audit/verify"),
    );
    if (flags.json) printJson(result);
    else if (result.ok)
      process.stdout.write(`audit chain intact: ${result.checked} events, head ${result.head.hash}\n`);
    if (!result.ok) {
      const b = result.broken;
      if (!flags.json) {
        process.stderr.write(
          `audit chain BROKEN at event ${b?.seq}${b?.id ? ` (${b.id})` : ""}: ${b?.reason}\n`,
        );
        process.stderr.write(`${result.checked} events before it are intact\n`);
      }
      process.exitCode = 6;
    }
  });

  withClientFlags(
    audit
      .command("list")
      .description("Page through events in chain order (--after SEQ continues from a page's `next`)")
      .option("--after <seq>", "only events after this sequence number", "0")
      .option("--limit <n>", "events per page (max 1000)", "100")
      .option("--all", "follow pages to the end")
      .option("--target <type:id>", "only events about this target, e.g. asset:<id>")
      .option("--action <action>", "only this action, e.g. inventory.reported")
      .option("--database <url>", "read a store directly instead of asking the server"),
  ).action(
    async (
      flags: AuditFlags & { after: string; limit: string; all?: boolean; target?: string; action?: string },
    ) => {
      const [targetType, targetId] = flags.target
        ? [flags.target.split(":")[0], flags.target.split(":").slice(1).join(":")]
        : [];
      let after = Number(flags.after);
      const limit = Number(flags.limit);
      if (!Number.isInteger(after) || !Number.isInteger(limit))
        throw new AppError("validation", "--after and --limit take whole numbers");
      const events: AuditEvent[] = [];
      let next: number | null = null;
      do {
        const query = {
          after,
          limit,
          ...(targetType ? { targetType } : {}),
          ...(targetId ? { targetId } : {}),
          ...(flags.action ? { action: flags.action } : {}),
        };
        const page: AuditPage = await withSource(
          flags,
          (store) => listAudit(store.db, query),
          () =>
            clientFrom(flags).get<AuditPage>(
              `/api/v1/audit?${new URLSearchParams(Object.entries(query).map(([k, v]): [string, string] => [k, String(v)]))}`,
            ),
        );
        events.push(...page.events);
        next = page.next;
        after = next ?? after;
      } while (flags.all && next !== null);
      if (flags.json) return printJson({ events, next });
      printTable(events, [
        { header: "SEQ", value: (e) => e.seq },
        { header: "AT", value: (e) => e.at },
        { header: "ACTOR", value: (e) => e.actor },
        { header: "ACTION", value: (e) => e.action },
        { header: "TARGET", value: (e) => `${e.targetType}:${e.targetId.slice(0, 8)}` },
        { header: "REASON", value: (e) => e.reason ?? "" },
      ]);
      if (next !== null) process.stdout.write(`more: --after ${next}\n`);
    },
  );
}
