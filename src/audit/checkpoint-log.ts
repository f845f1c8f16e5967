import { mkdir, open, readFile } from "node:fs/promises";
import { dirname } from "node:path";
import { parseCheckpointLine, type SignedCheckpoint } from "./checkpoint.js";

/**
 * Reads a checkpoint log (one signed checkpoint per line). A missing file is an empty log. A last line
 * without its newline is a write the process did not finish (a crash mid-append) and is left out;
 * any other damage is an error naming the line.
 */
export async function readCheckpointLog(path: string): Promise<SignedCheckpoint[]> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return [];
    throw err;
  }
  const lines = text.split("\n");
  const complete = lines.slice(0, -1);
  const checkpoints: SignedCheckpoint[] = [];
  for (const [index, line] of complete.entries()) {
    if (line.trim() !== "") checkpoints.push(parseCheckpointLine(line, `${path}:${index + 1}`));
  }
  return checkpoints;
}

/** Appends one checkpoint and flushes it to disk before returning: a checkpoint counts once it is durable. */
export async function appendCheckpoint(path: string, signed: SignedCheckpoint): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  const file = await open(path, "a");
  try {
    await file.appendFile(`${JSON.stringify(signed)}\n`, "utf8");
    await file.datasync();
  } finally {
    await file.close();
  }
}
