import { createHash, generateKeyPairSync, randomBytes, sign } from "node:crypto";
import { mkdtemp, readFile, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import { describe, expect, it } from "vitest";
import type { ApiClient } from "../../client/api-client.js";
import { AppError } from "../../domain/errors.js";
import { ArtifactFetcher, pinnedServerKey, signatureIsValid } from "./artifacts.js";

const server = generateKeyPairSync("ed25519");
const other = generateKeyPairSync("ed25519");
const pem = server.publicKey.export({ type: "spki", format: "pem" }).toString();
const digest = "a".repeat(64);
const signed = (key = server.privateKey, text = digest) =>
  sign(null, Buffer.from(text, "utf8"), key).toString("base64");

describe("artifact signatures", () => {
  it.each([
    ["the server's signature of the digest", signed(), true],
    ["another key's signature", signed(other.privateKey), false],
    ["a signature of another digest", signed(server.privateKey, "b".repeat(64)), false],
    ["garbage", "not base64 at all!", false],
    ["nothing", "", false],
  ])("%s → %s", (_name, signature, valid) => {
    expect(signatureIsValid(pinnedServerKey(pem), digest, signature)).toBe(valid);
  });

  it.each([
    ["missing", undefined],
    ["not PEM", "hello"],
    [
      "not ed25519",
      generateKeyPairSync("ec", { namedCurve: "P-256" })
        .publicKey.export({ type: "spki", format: "pem" })
        .toString(),
    ],
  ])("refuses a pinned key that is %s", (_name, value) => {
    let err: unknown;
    try {
      pinnedServerKey(value);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(AppError);
    expect((err as AppError).reason).toBe("agent.server-key-missing");
  });
});

/** A client whose artifact downloads send `bytes` in chunks of `chunk` bytes. */
function servingClient(bytes: Buffer, chunk: number): ApiClient {
  const client: Pick<ApiClient, "stream"> = {
    stream: async () => {
      const chunks: Buffer[] = [];
      for (let at = 0; at < bytes.length; at += chunk) chunks.push(bytes.subarray(at, at + chunk));
      return Readable.from(chunks);
    },
  };
  return client as ApiClient;
}

describe("artifact downloads", () => {
  it.each([
    ["a small package", 3000, 1024],
    ["one larger than a write's batch", 3 * 1024 * 1024 + 17, 64 * 1024],
  ])("%s arrives byte for byte, into a folder made when missing", async (_name, size, chunk) => {
    const bytes = randomBytes(size);
    const sha256 = createHash("sha256").update(bytes).digest("hex");
    const dir = await mkdtemp(join(tmpdir(), "autopatch-artifacts-"));
    try {
      const fetcher = new ArtifactFetcher(
        servingClient(bytes, chunk),
        join(dir, "nested", "artifacts"),
        pem,
        [],
      );
      const path = await fetcher.fetch({
        package: "p",
        version: "1",
        fileName: "p.deb",
        arch: "all",
        size,
        sha256,
        signature: signed(server.privateKey, sha256),
      });
      expect((await readFile(path)).equals(bytes)).toBe(true);
      expect((await stat(path)).mode & 0o777).toBe(0o600);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
