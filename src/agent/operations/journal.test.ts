import { appendFile, chmod, mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, expect, it } from "vitest";
import { AppError } from "../../domain/errors.js";
import type { OperationResult } from "../../rollout/operation.js";
import { JOURNAL_FILE, OperationJournal } from "./journal.js";

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "autopatch-journal-"));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const at = "2026-01-01T00:00:00.000Z";
const result: OperationResult = {
  ok: true,
  installedVersion: "1.1.0-1",
  checks: [],
  replayed: false,
  startedAt: at,
  finishedAt: at,
};
const snapshot = { provider: "dpkg", takenAt: at, packages: [] };

it("keeps what it was told across a reopen, in a file only its owner reads", async () => {
  const journal = await OperationJournal.open(dir);
  await journal.append({ type: "started", key: "a", id: "op-a", action: "patch", at });
  await journal.append({ type: "installing", key: "a", snapshot, at });
  await journal.append({ type: "started", key: "b", id: "op-b", action: "verify", at });
  await journal.append({ type: "finished", key: "b", result, at });
  await journal.close();

  const reopened = await OperationJournal.open(dir);
  expect(reopened.entry("a")).toEqual({ started: true, installing: { snapshot }, result: null });
  expect(reopened.entry("b")).toEqual({ started: true, installing: null, result });
  expect(reopened.entry("c")).toBeUndefined();
  expect((await stat(join(dir, JOURNAL_FILE))).mode & 0o777).toBe(0o600);
});

it("appends to a journal it finds, and makes it its owner's only", async () => {
  const first = await OperationJournal.open(dir);
  await first.append({ type: "started", key: "a", id: "op-a", action: "patch", at });
  await first.append({ type: "finished", key: "a", result, at });
  await first.close();
  await chmod(join(dir, JOURNAL_FILE), 0o644);
  const again = await OperationJournal.open(dir);
  await again.append({ type: "started", key: "b", id: "op-b", action: "patch", at });
  await again.append({ type: "installing", key: "b", snapshot, at });
  await again.close();
  expect((await stat(join(dir, JOURNAL_FILE))).mode & 0o777).toBe(0o600);
  const reopened = await OperationJournal.open(dir);
  expect(reopened.entry("a")?.result).toEqual(result);
  expect(reopened.entry("b")).toEqual({ started: true, installing: { snapshot }, result: null });
});

it("cuts a line a crash left half-written, and appends after it cleanly", async () => {
  const journal = await OperationJournal.open(dir);
  await journal.append({ type: "started", key: "a", id: "op-a", action: "patch", at });
  await journal.close();
  await appendFile(join(dir, JOURNAL_FILE), '{"type":"finished","key":"a","res');

  const reopened = await OperationJournal.open(dir);
  expect(reopened.entry("a")?.result).toBeNull();
  await reopened.append({ type: "finished", key: "a", result, at });
  await reopened.close();
  const lines = (await readFile(join(dir, JOURNAL_FILE), "utf8")).trim().split("\n");
  expect(lines.map((l) => JSON.parse(l).type)).toEqual(["started", "finished"]);
  expect((await OperationJournal.open(dir)).entry("a")?.result).toEqual(result);
});

it.each([
  ["not JSON", "{nope\n", 2],
  ["not a record", '{"type":"started"}\n', 2],
])("refuses a journal with a line that is %s, saying which", async (_what, line, lineNo) => {
  await writeFile(
    join(dir, JOURNAL_FILE),
    `${JSON.stringify({ type: "started", key: "a", id: "op-a", action: "patch", at })}\n${line}`,
  );
  const err = await OperationJournal.open(dir).catch((e: unknown) => e);
  expect(err).toBeInstanceOf(AppError);
  expect((err as AppError).reason).toBe("agent.journal-unreadable");
  expect((err as AppError).where).toBe(`${join(dir, JOURNAL_FILE)}:${lineNo}`);
});

it("rewrites a long journal with its newest keys only", async () => {
  const lines: string[] = [];
  for (let i = 0; i < 3000; i++) {
    lines.push(JSON.stringify({ type: "started", key: `k${i}`, id: `op-${i}`, action: "patch", at }));
    lines.push(JSON.stringify({ type: "finished", key: `k${i}`, result, at }));
  }
  await writeFile(join(dir, JOURNAL_FILE), `${lines.join("\n")}\n`);
  const journal = await OperationJournal.open(dir);
  expect(journal.entry("k0")).toBeUndefined();
  expect(journal.entry("k2999")?.result).toEqual(result);
  expect(journal.entry("k2000")?.result).toEqual(result);
  expect(journal.entry("k1999")).toBeUndefined();
  const kept = (await readFile(join(dir, JOURNAL_FILE), "utf8")).trim().split("\n");
  expect(kept).toHaveLength(2000);
  expect((await stat(join(dir, JOURNAL_FILE))).mode & 0o777).toBe(0o600);
});

it("makes its file, its owner's only, when the agent opens it, before any operation", async () => {
  const journal = await OperationJournal.open(dir);
  expect((await stat(join(dir, JOURNAL_FILE))).mode & 0o777).toBe(0o600);
  await journal.close();
});

it("writes each record as one whole line", async () => {
  const journal = await OperationJournal.open(dir);
  const long = {
    ...result,
    checks: [{ name: "x".repeat(50_000), ok: true, tries: 1, detail: "ok", durationMs: 1 }],
  };
  await journal.append({ type: "started", key: "a", id: "op-a", action: "patch", at });
  await journal.append({ type: "finished", key: "a", result: long, at });
  await journal.close();
  const lines = (await readFile(join(dir, JOURNAL_FILE), "utf8")).split("\n");
  expect(lines).toHaveLength(3);
  expect(JSON.parse(lines[1] ?? "").result.checks[0].name).toHaveLength(50_000);
  expect((await OperationJournal.open(dir)).entry("a")?.result).toEqual(long);
});
