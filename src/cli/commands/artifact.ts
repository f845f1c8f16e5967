import { readFile, stat } from "node:fs/promises";
import type { Command } from "commander";
import { ARTIFACT_MEDIA_TYPES, type ArtifactMeta, MAX_ARTIFACT_BYTES } from "../../artifacts/artifact.js";
import type { ApiClient } from "../../client/api-client.js";
import { listAll } from "../../client/list-all.js";
import { NotFoundError, ValidationError } from "../../domain/errors.js";
import { type ClientFlags, clientFrom, withClientFlags } from "../common.js";
import { formatAge, formatTime } from "../output/time.js";
import { printFields, printJson, printTable } from "../output.js";

/** Uploads a package file to the server's artifact store; the server reads its identity and signs it. */
export async function uploadArtifactFile(
  client: ApiClient,
  file: string,
  where: string,
): Promise<ArtifactMeta> {
  let size: number;
  try {
    const info = await stat(file);
    if (!info.isFile()) throw new Error("not a file");
    size = info.size;
  } catch {
    throw new NotFoundError(`package file not found: ${file}`, { where });
  }
  if (size > MAX_ARTIFACT_BYTES) {
    throw new ValidationError(
      `${file} is ${size} bytes; the artifact store takes at most ${MAX_ARTIFACT_BYTES}`,
      {
        where,
      },
    );
  }
  return client.upload<ArtifactMeta>(
    "/api/v1/artifacts",
    await readFile(file),
    ARTIFACT_MEDIA_TYPES[0] as string,
  );
}

function printArtifact(a: ArtifactMeta): void {
  printFields([
    ["sha256", a.sha256],
    ["package", `${a.package} ${a.version} (${a.arch})`],
    ["file", a.fileName],
    ["size", a.size],
    ["signature", `${a.signature} (key ${a.keyId.slice(0, 16)}…)`],
    ["uploaded", `${a.createdAt} by ${a.createdBy}`],
  ]);
}

export function registerArtifactCommands(program: Command): void {
  const artifact = program
    .command("artifact")
    .description("The server's content-addressed store of package files, signed for hosts to check");
  withClientFlags(
    artifact
      .command("upload <file>")
      .description("Upload a .deb (operator); prints its sha256, package, version, arch and size"),
  ).action(async (file: string, flags: ClientFlags) => {
    const meta = await uploadArtifactFile(clientFrom(flags), file, "<file>");
    if (flags.json) return printJson(meta);
    printArtifact(meta);
  });
  withClientFlags(
    artifact
      .command("list")
      .description("List stored artifacts, newest first")
      .option("--package <name>", "only this package")
      .option("--version <version>", "only this version"),
  ).action(async (flags: ClientFlags & { package?: string; version?: string }) => {
    const artifacts = await listAll(clientFrom(flags), "/api/v1/artifacts", {
      query: { package: flags.package, version: flags.version },
    });
    if (flags.json) return printJson(artifacts);
    printTable(artifacts, [
      { header: "SHA256", value: (a) => a.sha256.slice(0, 16) },
      { header: "FULL SHA256", value: (a) => a.sha256, wide: true },
      { header: "PACKAGE", value: (a) => a.package },
      { header: "VERSION", value: (a) => a.version },
      { header: "ARCH", value: (a) => a.arch },
      { header: "SIZE", value: (a) => a.size },
      { header: "UPLOADED", value: (a) => formatAge(a.createdAt) },
      { header: "UPLOADED AT", value: (a) => formatTime(a.createdAt), wide: true },
    ]);
  });
  withClientFlags(artifact.command("show <sha256>").description("Show one artifact's metadata")).action(
    async (sha256: string, flags: ClientFlags) => {
      const meta = await clientFrom(flags).get<ArtifactMeta>(
        `/api/v1/artifacts/${encodeURIComponent(sha256)}/meta`,
      );
      if (flags.json) return printJson(meta);
      printArtifact(meta);
    },
  );
}
