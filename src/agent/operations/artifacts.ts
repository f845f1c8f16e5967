import { createHash, createPublicKey, type KeyObject, verify } from "node:crypto";
import { closeSync, mkdirSync, openSync, unlinkSync, writeSync } from "node:fs";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import type { ApiClient } from "../../client/api-client.js";
import { AppError, reasonError } from "../../domain/errors.js";
import { sha256OfFile } from "../../dpkg/file-digest.js";
import type { ArtifactRef } from "../../rollout/operation.js";

/** Removes a file this fetcher wrote, if it is there (unlink, not rm: rm looks at it first). */
function removeFile(path: string): void {
  try {
    unlinkSync(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
  }
}

/** Bytes of a download gathered before they are written: a small package in one write. */
const WRITE_BATCH_BYTES = 1 << 20;

/** Writes every byte of the buffers (a write may take fewer than asked). */
function writeAll(fd: number, buffers: readonly Uint8Array[]): void {
  for (const buffer of buffers) {
    for (let at = 0; at < buffer.length; ) at += writeSync(fd, buffer, at);
  }
}

/**
 * How long one download is tried again while the server cannot be reached or answers 5xx: long enough
 * for a server to restart on a loaded machine (its start, migrations and first pass), and within the
 * time a rollout gives an operation (its progress deadline, minutes). The waits double from DOWNLOAD_RETRY_FIRST_MS up to DOWNLOAD_RETRY_CAP_MS.
 */
export const DOWNLOAD_DEADLINE_MS = 60_000;
const DOWNLOAD_RETRY_FIRST_MS = 250;
const DOWNLOAD_RETRY_CAP_MS = 2000;

/** Unreachable, the server's own failure (5xx), or a body cut off: worth another try; a refusal (4xx) is not. */
function isTransient(err: unknown): boolean {
  return (err instanceof AppError && err.code === "internal") || err instanceof BodyCutOff;
}

/** The connection ended before the artifact's last byte (a server stopped mid-answer). */
class BodyCutOff extends Error {}

// Keys read already, by their PEM: every download checks a signature, and reading the PEM each time
// cost more than the check. A KeyObject is immutable.
const READ_KEYS = new Map<string, KeyObject>();

/** Reads the server's ed25519 public key pinned at enrollment; refuses anything else. */
export function pinnedServerKey(pem: string | undefined): KeyObject {
  const known = pem === undefined ? undefined : READ_KEYS.get(pem);
  if (known) return known;
  const key = readServerKey(pem);
  if (READ_KEYS.size >= 100) READ_KEYS.clear();
  READ_KEYS.set(pem as string, key);
  return key;
}

function readServerKey(pem: string | undefined): KeyObject {
  if (!pem) {
    throw reasonError(
      "agent.server-key-missing",
      "this agent has no pinned server key, so it cannot check artifact signatures: enroll it again with a " +
        "server that sends its public key",
      { where: "agent.json/serverPublicKey" },
    );
  }
  let key: KeyObject;
  try {
    key = createPublicKey(pem);
  } catch (err) {
    throw reasonError("agent.server-key-missing", "the pinned server key is not a PEM public key", {
      where: "agent.json/serverPublicKey",
      cause: err,
    });
  }
  if (key.asymmetricKeyType !== "ed25519") {
    throw reasonError("agent.server-key-missing", "the pinned server key is not an ed25519 key", {
      where: "agent.json/serverPublicKey",
    });
  }
  return key;
}

/** The server signs the UTF-8 bytes of an artifact's sha256 hex digest with its ed25519 key. */
export function signatureIsValid(key: KeyObject, sha256: string, signatureBase64: string): boolean {
  try {
    return verify(null, Buffer.from(sha256, "utf8"), key, Buffer.from(signatureBase64, "base64"));
  } catch {
    return false;
  }
}

/**
 * Downloads artifacts for one operation into `dir` and hands out a path only once the bytes have the
 * sha256 the reference names and that digest carries a valid signature of the pinned server key. A
 * reference without a signature (a snapshot names its copy by digest only) borrows the signature of
 * the same digest among those the server offered with the operation.
 */
export class ArtifactFetcher {
  readonly #client: ApiClient;
  readonly #dir: string;
  readonly #pem: string | undefined;
  readonly #offered: readonly ArtifactRef[];
  readonly #downloaded = new Set<string>();
  readonly #signal: AbortSignal | undefined;

  /** `signal` ends the retries of a download (the agent is stopping): the fetch then rejects with its reason. */
  constructor(
    client: ApiClient,
    dir: string,
    pinnedPem: string | undefined,
    offered: readonly ArtifactRef[],
    signal?: AbortSignal,
  ) {
    this.#client = client;
    this.#dir = dir;
    this.#pem = pinnedPem;
    this.#offered = offered;
    this.#signal = signal;
  }

  /** The checked file's path. */
  readonly fetch = async (ref: ArtifactRef): Promise<string> => {
    const key = pinnedServerKey(this.#pem);
    const signature = ref.signature || this.#offered.find((o) => o.sha256 === ref.sha256)?.signature;
    if (!signature || !signatureIsValid(key, ref.sha256, signature)) {
      throw reasonError(
        "agent.artifact-signature-invalid",
        `${ref.package} ${ref.version} (sha256 ${ref.sha256}) is not signed by the server key this agent pinned`,
        { where: ref.sha256 },
      );
    }
    const path = join(this.#dir, `${ref.sha256}.deb`);
    if (this.#downloaded.has(path) && (await sha256OfFile(path).catch(() => null)) === ref.sha256)
      return path;
    let digest = "";
    const deadline = Date.now() + DOWNLOAD_DEADLINE_MS;
    for (let attempt = 1; ; attempt++) {
      try {
        digest = await this.#download(ref.sha256, path);
        break;
      } catch (err) {
        removeFile(path);
        // A server restarting or out of reach for a while: try again until the deadline before giving
        // up the operation (it has changed nothing yet).
        const waitMs = Math.min(DOWNLOAD_RETRY_CAP_MS, DOWNLOAD_RETRY_FIRST_MS * 2 ** (attempt - 1));
        if (!isTransient(err) || Date.now() + waitMs > deadline) throw err;
        this.#signal?.throwIfAborted();
        await sleep(waitMs, undefined, this.#signal ? { signal: this.#signal } : undefined).catch(
          () => undefined,
        );
        this.#signal?.throwIfAborted();
      }
    }
    if (digest !== ref.sha256) {
      removeFile(path);
      throw reasonError(
        "agent.artifact-digest-mismatch",
        `the server sent ${ref.package} ${ref.version} with sha256 ${digest}, not ${ref.sha256}`,
        { where: ref.sha256 },
      );
    }
    this.#downloaded.add(path);
    return path;
  };

  /**
   * Streams the artifact into `path`, hashing as it goes, and returns the bytes' digest. The file takes
   * its final name at once (no partial file and rename): its path is handed out only once the digest
   * and the signature hold, and a download that fails removes it, so unchecked bytes are never used.
   * The writes are synchronous: a package is a few writes into the page cache, cheaper on the calling
   * thread than a thread-pool round trip each.
   */
  async #download(sha256: string, path: string): Promise<string> {
    const hash = createHash("sha256");
    const body = await this.#client.stream(`/api/v1/artifacts/${sha256}`);
    let fd: number | null = null;
    try {
      let pending: Uint8Array[] = [];
      let pendingBytes = 0;
      try {
        for await (const chunk of body as AsyncIterable<Uint8Array>) {
          hash.update(chunk);
          pending.push(chunk);
          pendingBytes += chunk.length;
          if (pendingBytes >= WRITE_BATCH_BYTES) {
            fd ??= this.#create(path);
            writeAll(fd, pending);
            pending = [];
            pendingBytes = 0;
          }
        }
      } catch (err) {
        // The connection reset or closed mid-body; a failed open or write (a full disk) is not retried.
        const syscall = (err as NodeJS.ErrnoException).syscall;
        if (syscall !== undefined && syscall !== "read") throw err;
        throw new BodyCutOff(`the artifact ${sha256} ended early: ${(err as Error).message}`, { cause: err });
      }
      fd ??= this.#create(path);
      writeAll(fd, pending);
    } finally {
      if (fd !== null) closeSync(fd);
    }
    return hash.digest("hex");
  }

  /** Creates (or empties) the download's file; the folder is made when missing, not looked at each time. */
  #create(path: string): number {
    try {
      return openSync(path, "w", 0o600);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
      mkdirSync(this.#dir, { recursive: true, mode: 0o700 });
      return openSync(path, "w", 0o600);
    }
  }

  /** Removes what this fetcher downloaded: the pre-patch copies a snapshot keeps live elsewhere. */
  async cleanup(): Promise<void> {
    for (const path of this.#downloaded) removeFile(path);
    this.#downloaded.clear();
  }
}
