import { open, read, statSync } from "node:fs";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";

/** dpkg's own lock and the one front-ends (apt, unattended-upgrades) take before calling it. */
const LOCK_FILES = ["lock", "lock-frontend"] as const;

/** Linux's dev_t split as glibc's major()/minor() do it. */
function majorMinor(dev: bigint): [bigint, bigint] {
  const major = ((dev >> 8n) & 0xfffn) | ((dev >> 32n) & ~0xfffn);
  const minor = (dev & 0xffn) | ((dev >> 12n) & ~0xffn);
  return [major, minor];
}

let procLocks: Promise<number | null> | null = null;
/** Bytes read at once; doubled when the list outgrows it. Each look reads into its own buffer. */
let readSize = 16 * 1024;

/**
 * /proc/locks, read with one positional read of a descriptor kept open: reading it makes the kernel
 * wait for a grace period (it takes the file-lock list for writing), so it stays off the event loop,
 * and one read instead of readFile's open, stat, reads and close saves most of the CPU of each look.
 * Null where the file does not exist.
 */
async function readProcLocks(): Promise<string | null> {
  procLocks ??= new Promise((resolve) => open("/proc/locks", "r", (err, fd) => resolve(err ? null : fd)));
  const fd = await procLocks;
  if (fd === null) return null;
  for (;;) {
    const buffer = Buffer.allocUnsafe(readSize);
    const bytes = await new Promise<number>((resolve, reject) =>
      read(fd, buffer, 0, buffer.length, 0, (err, n) => (err ? reject(err) : resolve(n))),
    ).catch(() => null);
    if (bytes === null) return null;
    // A full buffer may have cut the list short: read it again into a larger one.
    if (bytes < buffer.length) return buffer.toString("utf8", 0, bytes);
    readSize = Math.max(readSize, buffer.length * 2);
  }
}

/**
 * True when a process holds a lock on the dpkg database at `admindir`: read from /proc/locks, which
 * lists every held lock by device and inode, so nothing here takes (or could steal) the lock itself.
 * False where /proc/locks does not exist, or when the database has no lock files.
 */
export async function isDpkgLocked(admindir: string): Promise<boolean> {
  // The lock files first: a database without them is free, and their inodes are what the list names.
  const ids: string[] = [];
  for (const name of LOCK_FILES) {
    const s = statOrNull(join(admindir, name));
    if (!s) continue;
    const [major, minor] = majorMinor(s.dev);
    ids.push(`${major}:${minor}:${s.ino}`);
  }
  if (ids.length === 0) return false;
  const locks = await readProcLocks();
  if (locks === null) return false;
  for (const id of ids) {
    // Only the lines naming the inode are split and parsed ("…:<inode> "), not the whole list.
    const inode = `:${id.slice(id.lastIndexOf(":") + 1)} `;
    for (let at = locks.indexOf(inode); at >= 0; at = locks.indexOf(inode, at + 1)) {
      const start = locks.lastIndexOf("\n", at) + 1;
      const end = locks.indexOf("\n", at);
      if (heldId(locks.slice(start, end < 0 ? undefined : end)) === id) return true;
    }
  }
  return false;
}

/** The "major:minor:inode" (decimal) a line of /proc/locks holds; null for a waiter or another line. */
function heldId(line: string): string | null {
  // "1: POSIX  ADVISORY  WRITE 1234 08:01:5678 0 EOF"; waiters are "1: -> POSIX …" and hold nothing.
  if (line.includes("->")) return null;
  const id = line.split(/\s+/).find((field) => /^[0-9a-f]+:[0-9a-f]+:\d+$/.test(field));
  if (!id) return null;
  const [major = "", minor = "", inode = ""] = id.split(":");
  return `${BigInt(`0x${major}`)}:${BigInt(`0x${minor}`)}:${inode}`;
}

/**
 * Waits until nobody holds the dpkg lock (apt waits the same way; dpkg itself gives up at once), or
 * until `timeoutMs`. Returns whether the database is free; the caller then lets dpkg say why not.
 */
export async function waitForDpkgUnlocked(
  admindir: string,
  options: { timeoutMs: number; signal?: AbortSignal },
): Promise<boolean> {
  const deadline = Date.now() + options.timeoutMs;
  for (;;) {
    if (!(await isDpkgLocked(admindir))) return true;
    if (Date.now() >= deadline || options.signal?.aborted) return false;
    await sleep(100, undefined, options.signal ? { signal: options.signal } : undefined).catch(
      () => undefined,
    );
  }
}

function statOrNull(path: string) {
  try {
    return statSync(path, { bigint: true, throwIfNoEntry: false }) ?? null;
  } catch {
    return null;
  }
}
