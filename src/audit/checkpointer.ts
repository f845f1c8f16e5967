import type { Kysely } from "kysely";
import type { Database } from "../store/schema.js";
import { walkAnchored } from "./anchored-walk.js";
import { type SignedCheckpoint, signCheckpoint } from "./checkpoint.js";
import { appendCheckpoint, readCheckpointLog } from "./checkpoint-log.js";
import { type ExportRange, exportAudit } from "./export.js";
import type { AuditSigningKey } from "./signing-key.js";

/** Signs the chain's head into checkpoints kept outside the database, and signs exports. */
export interface AuditCheckpointer {
  readonly key: AuditSigningKey;
  /** Where checkpoints are appended; null when they are only returned (offline commands). */
  readonly logPath: string | null;
  /** The latest checkpoint written (or read from the log at start). */
  latest(): SignedCheckpoint | null;
  /** Verifies the chain since the latest checkpoint, signs the head and appends it to the log. */
  checkpoint(): Promise<SignedCheckpoint>;
  /** The same, only when the head moved since the latest checkpoint. */
  checkpointIfMoved(): Promise<SignedCheckpoint | null>;
  export(range: ExportRange): Promise<AsyncIterable<string>>;
}

export interface CheckpointerOptions {
  db: Kysely<Database>;
  key: AuditSigningKey;
  logPath: string | null;
  /** The checkpoint to anchor on when there is no log (offline commands). */
  anchor?: SignedCheckpoint | null;
  now?: () => Date;
}

export async function openCheckpointer(options: CheckpointerOptions): Promise<AuditCheckpointer> {
  const { db, key, logPath } = options;
  const now = options.now ?? (() => new Date());
  let latest: SignedCheckpoint | null =
    logPath === null ? (options.anchor ?? null) : ((await readCheckpointLog(logPath)).at(-1) ?? null);
  // One checkpoint at a time, so the log's lines stay in the order of their heads.
  let queue: Promise<unknown> = Promise.resolve();
  const serial = <T>(work: () => Promise<T>): Promise<T> => {
    const run = queue.then(work, work);
    queue = run.catch(() => undefined);
    return run;
  };
  const sign = async (): Promise<SignedCheckpoint> => {
    const anchor = latest?.checkpoint ?? null;
    const { head } = await walkAnchored(db, { from: anchor ? anchor.seq : 1, to: "head", anchor });
    const signed = signCheckpoint(key, { seq: head.seq, hash: head.hash, at: now() });
    if (logPath !== null) await appendCheckpoint(logPath, signed);
    latest = signed;
    return signed;
  };
  return {
    key,
    logPath,
    latest: () => latest,
    checkpoint: () => serial(sign),
    checkpointIfMoved: () =>
      serial(async () => {
        const head = await db
          .selectFrom("audit_head")
          .select(["seq", "hash"])
          .where("id", "=", 1)
          .executeTakeFirst();
        const last = latest?.checkpoint;
        if (last && head && Number(head.seq) === last.seq && head.hash === last.hash) return null;
        return sign();
      }),
    export: (range) => exportAudit(db, key, latest?.checkpoint ?? null, range, now()),
  };
}
