/**
 * Reads OSV records from a .json file (one record or an array), a .jsonl file, a directory (recursively)
 * or a .zip archive in osv.dev's export layout. A bad record is yielded as an error with its location
 * and the rest are still read.
 */
import { createReadStream } from "node:fs";
import { readdir, readFile, stat } from "node:fs/promises";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { text as streamText } from "node:stream/consumers";
import yauzl from "yauzl";
import { isAppError, NotFoundError, ValidationError } from "../../domain/errors.js";
import { parseJsonText } from "../../domain/json-text.js";
import { type OsvRecord, parseOsvRecord } from "./schema.js";

export interface OsvSourceItem {
  record?: OsvRecord;
  error?: ValidationError;
  /** `file`, `file#/3` (array element), `file:line` (JSONL) or `archive.zip!entry.json`. */
  location: string;
}

function asValidationError(err: unknown, where: string): ValidationError {
  if (err instanceof ValidationError) return err;
  const message = isAppError(err) || err instanceof Error ? err.message : String(err);
  return new ValidationError(message, { where, cause: err });
}

/** Parses and validates one record; never throws. */
function item(value: unknown, file: string, pointerBase?: string): OsvSourceItem {
  const location = pointerBase === undefined ? file : `${file}#${pointerBase}`;
  try {
    return {
      record: parseOsvRecord(value, { file, ...(pointerBase === undefined ? {} : { pointerBase }) }),
      location,
    };
  } catch (err) {
    return { error: asValidationError(err, location), location };
  }
}

/** One record or an array of records in a JSON text. */
function* itemsOfJson(text: string, file: string): Generator<OsvSourceItem> {
  let value: unknown;
  try {
    // A UTF-8 byte order mark is legal in a file but not in JSON.parse's input.
    value = parseJsonText(text.replace(/^\uFEFF/, ""), file);
  } catch (err) {
    yield { error: asValidationError(err, file), location: file };
    return;
  }
  if (Array.isArray(value)) {
    for (const [i, element] of value.entries()) yield item(element, file, `/${i}`);
  } else {
    yield item(value, file);
  }
}

async function* readJsonl(path: string): AsyncGenerator<OsvSourceItem> {
  const lines = createInterface({
    input: createReadStream(path, { encoding: "utf8" }),
    crlfDelay: Number.POSITIVE_INFINITY,
  });
  let lineNo = 0;
  for await (const line of lines) {
    lineNo += 1;
    if (line.trim() === "") continue;
    const location = `${path}:${lineNo}`;
    let value: unknown;
    try {
      value = parseJsonText(line, path, lineNo);
    } catch (err) {
      yield { error: asValidationError(err, location), location };
      continue;
    }
    yield item(value, location);
  }
}

async function* readZip(path: string): AsyncGenerator<OsvSourceItem> {
  let zip: yauzl.ZipFile;
  try {
    zip = await yauzl.openPromise(path, { lazyEntries: true, autoClose: false });
  } catch (err) {
    throw new ValidationError(
      `cannot read zip archive: ${err instanceof Error ? err.message : String(err)}`,
      {
        where: path,
        cause: err,
      },
    );
  }
  try {
    for await (const entry of zip.eachEntry()) {
      if (entry.fileName.endsWith("/") || !entry.fileName.toLowerCase().endsWith(".json")) continue;
      const location = `${path}!${entry.fileName}`;
      let text: string;
      try {
        text = await streamText(await zip.openReadStreamPromise(entry));
      } catch (err) {
        yield { error: asValidationError(err, location), location };
        continue;
      }
      yield* itemsOfJson(text, location);
    }
  } finally {
    zip.close();
  }
}

async function* readDirectory(path: string): AsyncGenerator<OsvSourceItem> {
  // Sorted so that runs over the same tree yield the same order.
  const entries = (await readdir(path, { withFileTypes: true })).sort((a, b) =>
    a.name < b.name ? -1 : a.name > b.name ? 1 : 0,
  );
  for (const entry of entries) {
    const child = join(path, entry.name);
    if (entry.isDirectory()) yield* readDirectory(child);
    else if (/\.jsonl?$/i.test(entry.name)) yield* readOsvSource(child);
  }
}

/**
 * Every record in `path`: a `.json` file (one record or an array), a `.jsonl` file, a directory
 * (recursively, `*.json` and `*.jsonl`) or a `.zip` archive (one JSON record per entry). Throws
 * NotFoundError for a path it cannot stat and ValidationError for an unreadable archive or an unknown
 * file type; per-record problems are yielded, not thrown.
 */
export async function* readOsvSource(path: string): AsyncGenerator<OsvSourceItem> {
  let info: Awaited<ReturnType<typeof stat>>;
  try {
    info = await stat(path);
  } catch (err) {
    throw new NotFoundError(`cannot read OSV source: ${err instanceof Error ? err.message : String(err)}`, {
      where: path,
      cause: err,
    });
  }
  if (info.isDirectory()) {
    yield* readDirectory(path);
    return;
  }
  const lower = path.toLowerCase();
  if (lower.endsWith(".jsonl")) yield* readJsonl(path);
  else if (lower.endsWith(".zip")) yield* readZip(path);
  else if (lower.endsWith(".json")) yield* itemsOfJson(await readFile(path, "utf8"), path);
  else
    throw new ValidationError("unsupported OSV source: expected a directory, .json, .jsonl or .zip", {
      where: path,
    });
}
