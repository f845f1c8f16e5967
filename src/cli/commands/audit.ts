import type { KeyObject } from "node:crypto";
import { once } from "node:events";
import { readFileSync } from "node:fs";
import type { Command } from "commander";
import {
  checkpointSignatureProblem,
  parseCheckpointFile,
  type SignedCheckpoint,
} from "../../audit/checkpoint.js";
import { appendCheckpoint, readCheckpointLog } from "../../audit/checkpoint-log.js";
import { type AuditCheckpointer, openCheckpointer } from "../../audit/checkpointer.js";
import type { AuditEvent } from "../../audit/event.js";
import { parseInstant } from "../../audit/export.js";
import { type ExportVerifyResult, verifyExport } from "../../audit/export-verify.js";
import { auditLocations } from "../../audit/locations.js";
import { type AuditPage, listAudit, type VerifyResult, verifyAuditChain } from "../../audit/log.js";
import { type AuditSigningKey, loadSigningKey, parsePublicKey } from "../../audit/signing-key.js";
import { type CheckpointVerifyResult, verifyAgainstCheckpoints } from "../../audit/verify-checkpoints.js";
import { listAll } from "../../client/list-all.js";
import { AppError, ValidationError } from "../../domain/errors.js";
import type { Store } from "../../store/store.js";
import { openStore } from "../../store/store.js";
import { type ClientFlags, clientFrom, withClientFlags } from "../common.js";
import { formatTime } from "../output/time.js";
import { printJson, printTable } from "../output.js";

interface AuditFlags extends ClientFlags {
  database?: string;
  auditKey?: string;
  auditCheckpointLog?: string;
}

/** Runs against the store directly with --database (offline, e.g. on a backup), else through the server. */
async function withSource<T>(
  flags: AuditFlags,
  offline: (store: Store, databaseUrl: string) => Promise<T>,
  online: () => Promise<T>,
): Promise<T> {
  if (!flags.database) return online();
  const store = await openStore(flags.database, { migrate: false });
  try {
    return await offline(store, flags.database);
  } finally {
    await store.close();
  }
}

/** Offline commands that sign read the server's key file (found as the server finds it); they never create it. */
function offlineOptions(command: Command): Command {
  return command
    .option("--database <url>", "work on a store directly instead of asking the server")
    .option("--audit-key <file>", "with --database: the signing key (default: as the server finds it)")
    .option("--audit-checkpoint-log <file>", "with --database: the server's checkpoint log to anchor on");
}

function offlineKey(databaseUrl: string, flags: AuditFlags): AuditSigningKey {
  const locations = auditLocations(databaseUrl, flags.auditKey ? { keyFile: flags.auditKey } : {});
  return loadSigningKey(locations.keyFile, { create: false });
}

async function offlineCheckpointer(
  store: Store,
  databaseUrl: string,
  flags: AuditFlags,
): Promise<AuditCheckpointer> {
  const locations = auditLocations(
    databaseUrl,
    flags.auditCheckpointLog ? { checkpointLog: flags.auditCheckpointLog } : {},
  );
  const anchor = (await readCheckpointLog(locations.checkpointLog)).at(-1) ?? null;
  return openCheckpointer({ db: store.db, key: offlineKey(databaseUrl, flags), logPath: null, anchor });
}

function readInput(path: string, flag: string): string {
  try {
    return readFileSync(path, "utf8");
  } catch (err) {
    throw new ValidationError(`cannot read ${path}: ${(err as Error).message}`, { where: flag, cause: err });
  }
}

/** Writes chunks to stdout, waiting when the pipe is full. */
async function toStdout(source: AsyncIterable<string | Uint8Array>): Promise<void> {
  for await (const chunk of source) {
    if (!process.stdout.write(chunk)) await once(process.stdout, "drain");
  }
}

function reportBroken(result: VerifyResult, json: boolean | undefined): void {
  if (!json) {
    const b = result.broken;
    process.stderr.write(`audit chain BROKEN at event ${b?.seq}${b?.id ? ` (${b.id})` : ""}: ${b?.reason}\n`);
    process.stderr.write(`${result.checked} events before it are intact\n`);
  }
  process.exitCode = 6;
}

interface VerifyFlags extends AuditFlags {
  checkpoint?: string;
  export?: string;
  publicKey?: string;
}

async function verifyCheckpoints(flags: VerifyFlags, file: string): Promise<void> {
  const checkpoints = parseCheckpointFile(readInput(file, "--checkpoint"), file);
  const given: KeyObject | null = flags.publicKey
    ? parsePublicKey(readInput(flags.publicKey, "--public-key"), flags.publicKey)
    : null;
  const result = await withSource<CheckpointVerifyResult>(
    flags,
    (store, url) =>
      verifyAgainstCheckpoints(store.db, checkpoints, given ?? offlineKey(url, flags).publicKey),
    async () => {
      // A key the user holds is checked here, not only by the server that the checkpoints are about.
      if (given) {
        for (const [index, signed] of checkpoints.entries()) {
          const problem = checkpointSignatureProblem(signed, given);
          if (problem) {
            return {
              ok: false,
              checked: 0,
              checkpoints: 0,
              head: null,
              broken: { seq: signed.checkpoint.seq, id: null, reason: `${file}:${index + 1}: ${problem}` },
            };
          }
        }
      }
      return clientFrom(flags).post<CheckpointVerifyResult>("/api/v1/audit/verify", { checkpoints });
    },
  );
  if (flags.json) printJson(result);
  else if (result.ok) {
    const latest = checkpoints.reduce((a, b) => (b.checkpoint.seq > a.checkpoint.seq ? b : a)).checkpoint;
    process.stdout.write(
      `audit chain intact: ${result.checked} events, head ${result.head?.hash}; it reaches and matches ` +
        `${result.checkpoints} checkpoint(s), the latest of event ${latest.seq} at ${latest.at}\n`,
    );
  }
  if (!result.ok) reportBroken(result, flags.json);
}

function verifyExportFile(flags: VerifyFlags, file: string): void {
  if (!flags.publicKey) {
    throw new ValidationError("--export needs --public-key FILE (the PEM that `audit public-key` prints)", {
      where: "--public-key",
    });
  }
  const key = parsePublicKey(readInput(flags.publicKey, "--public-key"), flags.publicKey);
  const result: ExportVerifyResult = verifyExport(readInput(file, "--export"), key);
  if (flags.json) printJson(result);
  else if (result.ok && result.checkpoint) {
    const c = result.checkpoint;
    process.stdout.write(
      `export intact and signed: ${result.checked} events (${c.first ?? 1} to ${c.seq}), ` +
        `checkpoint of ${c.at} by key ${c.keyId}\n`,
    );
  }
  if (!result.ok) {
    const b = result.broken;
    if (!flags.json) {
      process.stderr.write(
        `export BROKEN at ${file}:${b?.line}${b?.seq === null || b?.seq === undefined ? "" : ` (event ${b.seq})`}: ${b?.reason}\n`,
      );
      process.stderr.write(`${result.checked} events before it are intact\n`);
    }
    process.exitCode = 6;
  }
}

export function registerAuditCommand(program: Command): void {
  const audit = program
    .command("audit")
    .description("Read, sign, export and verify the hash-chained audit log");
  withClientFlags(
    offlineOptions(
      audit
        .command("verify")
        .description(
          "Check the whole chain; exits 0 when intact, 6 naming the first broken event otherwise.\n" +
            "--checkpoint FILE: the chain must also reach and match each signed checkpoint in FILE.\n" +
            "--export FILE --public-key KEY: check an export with the key alone (no server, no store).",
        )
        .option(
          "--checkpoint <file>",
          "a checkpoint, or a log of them (JSON Lines), kept outside the database",
        )
        .option("--export <file>", "an `audit export` file to check offline")
        .option("--public-key <file>", "the PEM public key the checkpoints must be signed with"),
    ),
  ).action(async (flags: VerifyFlags) => {
    if (flags.export) return verifyExportFile(flags, flags.export);
    if (flags.checkpoint) return verifyCheckpoints(flags, flags.checkpoint);
    const result = await withSource<VerifyResult>(
      flags,
      (store) => verifyAuditChain(store.db),
      () => clientFrom(flags).get<VerifyResult>("/api/v1/audit/verify"),
    );
    if (flags.json) printJson(result);
    else if (result.ok) {
      const matched =
        "checkpoints" in result && result.checkpoints === 1
          ? "; it extends the server's latest checkpoint"
          : "";
      process.stdout.write(
        `audit chain intact: ${result.checked} events, head ${result.head?.hash}${matched}\n`,
      );
    }
    if (!result.ok) reportBroken(result, flags.json);
  });

  withClientFlags(
    offlineOptions(
      audit.command("public-key").description("Print the ed25519 key that signs checkpoints (PEM, SPKI)"),
    ),
  ).action(async (flags: AuditFlags) => {
    const key = await withSource(
      flags,
      async (_store, url) => {
        const k = offlineKey(url, flags);
        return { publicKey: k.publicKeyPem, keyId: k.keyId };
      },
      () => clientFrom(flags).get<{ publicKey: string; keyId: string }>("/api/v1/audit/public-key"),
    );
    if (flags.json) printJson(key);
    else process.stdout.write(key.publicKey);
  });

  withClientFlags(
    offlineOptions(
      audit
        .command("checkpoint")
        .description(
          "Sign the chain's head now and append the checkpoint to FILE (keep it outside the database)",
        )
        .requiredOption("--out <file>", "the file to append the checkpoint to (JSON Lines)"),
    ),
  ).action(async (flags: AuditFlags & { out: string }) => {
    const signed = await withSource<SignedCheckpoint>(
      flags,
      async (store, url) => (await offlineCheckpointer(store, url, flags)).checkpoint(),
      () => clientFrom(flags).post<SignedCheckpoint>("/api/v1/audit/checkpoints"),
    );
    await appendCheckpoint(flags.out, signed);
    if (flags.json) printJson(signed);
    else
      process.stdout.write(
        `checkpoint of event ${signed.checkpoint.seq} (${signed.checkpoint.hash}) appended to ${flags.out}\n`,
      );
  });

  withClientFlags(
    offlineOptions(
      audit
        .command("export")
        .description(
          "Write events as JSON Lines with their chain hashes, the last line a signed checkpoint\n" +
            "(check it with `audit verify --export FILE --public-key KEY`)",
        )
        .option("--since <iso>", "events at or after this time")
        .option("--until <iso>", "events before this time"),
    ),
  ).action(async (flags: AuditFlags & { since?: string; until?: string }) => {
    const range = {
      ...(flags.since === undefined ? {} : { since: parseInstant(flags.since, "--since") }),
      ...(flags.until === undefined ? {} : { until: parseInstant(flags.until, "--until") }),
    };
    await withSource(
      flags,
      async (store, url) => toStdout(await (await offlineCheckpointer(store, url, flags)).export(range)),
      async () => {
        const query = new URLSearchParams(range).toString();
        const body = await clientFrom(flags).stream(`/api/v1/audit/export${query ? `?${query}` : ""}`);
        await toStdout(body);
      },
    );
  });

  withClientFlags(
    audit
      .command("list")
      .description("Page through events in chain order (--after SEQ continues from a page's `next`)")
      .option("--after <seq>", "only events after this sequence number", "0")
      .option("--limit <n>", "events per page (max 1000)", "100")
      .option("--all", "follow pages to the end")
      .option(
        "--target <type:id>",
        "only events about this target, e.g. asset:web-1 (an asset by name or id)",
      )
      .option("--action <action>", "only this action, e.g. inventory.reported")
      .option("--database <url>", "read a store directly instead of asking the server"),
  ).action(
    async (
      flags: AuditFlags & { after: string; limit: string; all?: boolean; target?: string; action?: string },
    ) => {
      const [targetType, targetGiven] = flags.target
        ? [flags.target.split(":")[0], flags.target.split(":").slice(1).join(":")]
        : [];
      // Assets are named by people and stored by id: both work, and the table shows names.
      const assetIds =
        targetType === "asset" || !flags.json
          ? await withSource(
              flags,
              async (store) => await store.db.selectFrom("assets").select(["id", "name"]).execute(),
              () => listAll(clientFrom(flags), "/api/v1/assets"),
            ).then((list) => list.map((a) => [a.id, a.name] as const))
          : [];
      const assetNames = new Map(assetIds);
      const targetId =
        targetType === "asset" && targetGiven && !assetNames.has(targetGiven)
          ? (assetIds.find(([, name]) => name === targetGiven)?.[0] ?? targetGiven)
          : targetGiven;
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
          async () => {
            const answer = await clientFrom(flags).get<{ items: AuditEvent[]; next: string | null }>(
              `/api/v1/audit?${new URLSearchParams(Object.entries(query).map(([k, v]): [string, string] => [k, String(v)]))}`,
            );
            // `next` stays a sequence number, as `--after` and the local store's pages take it.
            return {
              events: answer.items,
              next: answer.next === null ? null : (answer.items.at(-1)?.seq ?? null),
            };
          },
        );
        events.push(...page.events);
        next = page.next;
        after = next ?? after;
      } while (flags.all && next !== null);
      if (flags.json) return printJson({ events, next });
      printTable(events, [
        { header: "SEQ", value: (e) => e.seq, keep: true },
        { header: "AT", value: (e) => formatTime(e.at), keep: true },
        { header: "ACTOR", value: (e) => e.actor },
        { header: "ACTION", value: (e) => e.action },
        {
          header: "TARGET",
          value: (e) =>
            `${e.targetType}:${(e.targetType === "asset" ? assetNames.get(e.targetId) : undefined) ?? e.targetId.slice(0, 8)}`,
        },
        { header: "TARGET ID", value: (e) => e.targetId, wide: true },
        { header: "REASON", value: (e) => e.reason ?? "", wide: true },
      ]);
      if (next !== null) process.stdout.write(`more: --after ${next}\n`);
    },
  );
}
