import { writeSync } from "node:fs";
import { type FileHandle, open, readFile, rename, truncate } from "node:fs/promises";
import { dirname, join } from "node:path";
import { z } from "zod";
import { reasonError } from "../../domain/errors.js";
import { OPERATION_ACTIONS } from "../../rollout/model.js";
import { operationResultSchema, snapshotSchema } from "../../rollout/operation.js";

export const JOURNAL_FILE = "operations.jsonl";

/**
 * One line of the journal. `started` is written before the agent acts on an operation, `installing`
 * right before it changes the host (with the snapshot it took, the way back), `finished` with the
 * result once it is done. `installing` and `finished` lines are fsync'd before the agent goes on; a
 * `started` line is not (the next fsync of the file takes it along): a key that lost it after a crash
 * is run from the start, exactly as a key with `started` but no `installing` line is.
 */
const journalRecordSchema = z.discriminatedUnion("type", [
  z.object({
    type: z.literal("started"),
    key: z.string(),
    id: z.string(),
    action: z.enum(OPERATION_ACTIONS),
    at: z.string(),
  }),
  z.object({
    type: z.literal("installing"),
    key: z.string(),
    snapshot: snapshotSchema.optional(),
    at: z.string(),
  }),
  z.object({ type: z.literal("finished"), key: z.string(), result: operationResultSchema, at: z.string() }),
]);
export type JournalRecord = z.infer<typeof journalRecordSchema>;

/** What the journal knows of one idempotency key. */
export interface JournalEntry {
  started: boolean;
  /** The host may have been changed: an `installing` line was written (with its snapshot, if any). */
  installing: { snapshot?: z.infer<typeof snapshotSchema> } | null;
  result: z.infer<typeof operationResultSchema> | null;
}

interface StoredEntry extends JournalEntry {
  /** The key's lines as written, for a rewrite. */
  records: JournalRecord[];
}

/** Past this many lines the journal is rewritten with the newest keys only, at the next start. */
const COMPACT_AFTER_LINES = 5000;
/** Keys kept by a rewrite: far more than a rollout ever re-issues to one host. */
const KEEP_KEYS = 1000;

/**
 * The agent's record of the operations it ran, `operations.jsonl` in its state dir (mode 0600). A
 * re-issued key with a `finished` line is answered from it; one with only `started` is re-examined on
 * the host, never run twice.
 */
export class OperationJournal {
  readonly #path: string;
  readonly #entries = new Map<string, StoredEntry>();
  #file: FileHandle | null = null;

  private constructor(path: string) {
    this.#path = path;
  }

  static async open(stateDir: string): Promise<OperationJournal> {
    const journal = new OperationJournal(join(stateDir, JOURNAL_FILE));
    await journal.#load();
    // The file is opened (and a new one's folder synced) when the agent starts, not at its first
    // operation: an operation then pays for its appends only, and a state dir it cannot write
    // shows before any operation is leased.
    await journal.#handle();
    return journal;
  }

  get path(): string {
    return this.#path;
  }

  entry(key: string): JournalEntry | undefined {
    const entry = this.#entries.get(key);
    return entry && { started: entry.started, installing: entry.installing, result: entry.result };
  }

  /** Appends one record and, unless it is a `started` line (see above), waits until it is on disk. */
  async append(record: JournalRecord): Promise<void> {
    const file = await this.#handle();
    // One write of the line (the file is opened for appending), synchronous: a line into the page
    // cache costs less on this thread than a thread-pool round trip. The fsync, which waits for the
    // disk, stays off it.
    writeAll(file.fd, Buffer.from(`${JSON.stringify(record)}\n`, "utf8"));
    if (record.type !== "started") await file.sync();
    this.#apply(record);
  }

  async close(): Promise<void> {
    await this.#file?.close();
    this.#file = null;
  }

  #apply(record: JournalRecord): void {
    const entry = this.#entries.get(record.key) ?? {
      started: false,
      installing: null,
      result: null,
      records: [],
    };
    entry.records.push(record);
    if (record.type === "started") entry.started = true;
    if (record.type === "installing") {
      entry.installing = record.snapshot === undefined ? {} : { snapshot: record.snapshot };
    }
    if (record.type === "finished") entry.result = record.result;
    // Re-inserting keeps the map in order of last use, which compaction relies on.
    this.#entries.delete(record.key);
    this.#entries.set(record.key, entry);
  }

  async #load(): Promise<void> {
    let text: string;
    try {
      text = await readFile(this.#path, "utf8");
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ENOENT") return;
      throw reasonError(
        "agent.journal-unreadable",
        `cannot read the operation journal: ${(err as Error).message}`,
        {
          where: this.#path,
          cause: err,
        },
      );
    }
    // A crash mid-append leaves a line without its newline: that record was never acted on (each
    // step waits for its line to be on disk), so it is cut off before the next append.
    const complete = text.lastIndexOf("\n") + 1;
    if (complete < text.length) await truncate(this.#path, Buffer.byteLength(text.slice(0, complete)));
    const lines = text.slice(0, complete).split("\n");
    lines.forEach((line, i) => {
      if (line.trim() === "") return;
      let parsed: unknown;
      try {
        parsed = JSON.parse(line);
      } catch (err) {
        throw reasonError("agent.journal-unreadable", `line ${i + 1} of the operation journal is not JSON`, {
          where: `${this.#path}:${i + 1}`,
          cause: err,
        });
      }
      const record = journalRecordSchema.safeParse(parsed);
      if (!record.success) {
        throw reasonError(
          "agent.journal-unreadable",
          `line ${i + 1} of the operation journal is not a record`,
          {
            where: `${this.#path}:${i + 1}`,
          },
        );
      }
      this.#apply(record.data);
    });
    if (lines.length > COMPACT_AFTER_LINES) await this.#compact();
  }

  /** Rewrites the journal with the newest keys' records, atomically (write, fsync, rename). */
  async #compact(): Promise<void> {
    const keep = [...this.#entries].slice(-KEEP_KEYS);
    const lines = keep.flatMap(([, entry]) => entry.records.map((r) => JSON.stringify(r)));
    const tmp = `${this.#path}.tmp`;
    const file = await open(tmp, "w", 0o600);
    try {
      await file.writeFile(lines.map((l) => `${l}\n`).join(""), "utf8");
      await file.sync();
    } finally {
      await file.close();
    }
    await rename(tmp, this.#path);
    await syncFolderOf(this.#path);
    this.#entries.clear();
    for (const [key, entry] of keep) this.#entries.set(key, entry);
  }

  async #handle(): Promise<FileHandle> {
    if (this.#file) return this.#file;
    const file = await open(this.#path, "a", 0o600);
    const s = await file.stat();
    // The mode given to open() applies to a new file only, and passes through the umask.
    if ((s.mode & 0o777) !== 0o600) await file.chmod(0o600);
    // A new file's name must survive a crash too: fsync the folder that holds it. A file with records
    // in it was synced so when it was made (nothing is appended before that), or renamed into place
    // by a compaction that synced the folder.
    if (s.size === 0) await syncFolderOf(this.#path);
    this.#file = file;
    return file;
  }
}

/** Writes every byte (a write may take fewer than asked). */
function writeAll(fd: number, bytes: Buffer): void {
  for (let at = 0; at < bytes.length; ) at += writeSync(fd, bytes, at);
}

async function syncFolderOf(path: string): Promise<void> {
  const dir = await open(dirname(path), "r");
  try {
    await dir.sync();
  } finally {
    await dir.close();
  }
}
