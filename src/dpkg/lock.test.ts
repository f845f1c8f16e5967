import { spawn } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { afterEach, expect, it } from "vitest";
import { isDpkgLocked, waitForDpkgUnlocked } from "./lock.js";

const dirs: string[] = [];
afterEach(async () => {
  await Promise.all(dirs.splice(0).map((d) => rm(d, { recursive: true, force: true })));
});

async function admindir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "autopatch-lock-"));
  dirs.push(dir);
  await writeFile(join(dir, "lock"), "");
  return dir;
}

/** Holds a lock on `file` for `seconds` with util-linux flock(1), as another dpkg run would. */
async function holdLock(file: string, seconds: number): Promise<void> {
  const child = spawn("flock", [file, "sleep", String(seconds)], { stdio: "ignore" });
  for (let i = 0; i < 50; i++) {
    if (await isDpkgLocked(join(file, ".."))) return;
    await sleep(20);
  }
  child.kill();
  throw new Error("flock did not take the lock");
}

it("sees a lock another process holds, and waits until it is released", async () => {
  const dir = await admindir();
  expect(await isDpkgLocked(dir)).toBe(false);
  await holdLock(join(dir, "lock"), 0.5);
  expect(await isDpkgLocked(dir)).toBe(true);
  const started = Date.now();
  expect(await waitForDpkgUnlocked(dir, { timeoutMs: 5000 })).toBe(true);
  expect(Date.now() - started).toBeGreaterThan(200);
  expect(await isDpkgLocked(dir)).toBe(false);
});

it("gives up after the timeout while the lock is still held", async () => {
  const dir = await admindir();
  await holdLock(join(dir, "lock"), 2);
  expect(await waitForDpkgUnlocked(dir, { timeoutMs: 200 })).toBe(false);
});

it("treats a database without lock files as free", async () => {
  expect(await isDpkgLocked(join(await admindir(), "missing"))).toBe(false);
});
