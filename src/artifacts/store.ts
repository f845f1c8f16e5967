import { createHash } from "node:crypto";
import type { Kysely, Selectable } from "kysely";
import { appendAudit } from "../audit/log.js";
import type { AuditSigningKey } from "../audit/signing-key.js";
import { reasonError } from "../domain/errors.js";
import { type Actor, actorLabel } from "../domain/roles.js";
import type { ServiceContext } from "../service/context.js";
import type { ArtifactsTable, Database } from "../store/schema.js";
import { preparedQuery } from "../store/statement-cache.js";
import { type ArtifactMeta, SHA256_HEX } from "./artifact.js";
import { inspectDeb } from "./deb-file.js";
import { signArtifactDigest } from "./signature.js";

const META_COLUMNS = [
  "sha256",
  "file_name",
  "package_name",
  "package_version",
  "arch",
  "size",
  "signature",
  "key_id",
  "created_by",
  "created_at",
] as const;

type MetaRow = Pick<Selectable<ArtifactsTable>, (typeof META_COLUMNS)[number]>;

function metaOf(row: MetaRow): ArtifactMeta {
  return {
    sha256: row.sha256,
    fileName: row.file_name,
    package: row.package_name,
    version: row.package_version,
    arch: row.arch,
    size: Number(row.size),
    signature: row.signature,
    keyId: row.key_id,
    createdBy: row.created_by,
    createdAt: row.created_at,
  };
}

function noSigningKey() {
  return reasonError(
    "artifact.signing-unavailable",
    "this server has no signing key, so it stores no artifacts: hosts could not check them",
  );
}

/**
 * Stores a package file under the sha256 of its bytes, signed with the server's key. The same bytes
 * uploaded again are the same artifact: nothing changes and `created` is false. A file that is not a
 * valid .deb is refused before anything is written.
 */
export async function storeArtifact(
  ctx: ServiceContext,
  actor: Actor,
  key: AuditSigningKey | null,
  bytes: Uint8Array,
): Promise<{ artifact: ArtifactMeta; created: boolean }> {
  if (key === null) throw noSigningKey();
  const sha256 = createHash("sha256").update(bytes).digest("hex");
  const known = await findArtifact(ctx.store.db, sha256);
  if (known) return { artifact: known, created: false };
  const identity = await inspectDeb(bytes);
  const now = ctx.now();
  const row: Selectable<ArtifactsTable> = {
    sha256,
    file_name: identity.fileName,
    package_name: identity.package,
    package_version: identity.version,
    arch: identity.arch,
    size: bytes.byteLength,
    content: Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength),
    signature: signArtifactDigest(key.privateKey, sha256),
    key_id: key.keyId,
    created_by: actorLabel(actor),
    created_at: now.toISOString(),
  };
  return ctx.store.write(async (trx) => {
    const inserted = await trx
      .insertInto("artifacts")
      .values(row)
      .onConflict((oc) => oc.column("sha256").doNothing())
      .executeTakeFirst();
    // Two uploads of the same bytes at once: the first stores it, the second finds it.
    if (Number(inserted.numInsertedOrUpdatedRows ?? 0n) === 0) {
      const existing = await findArtifact(trx, sha256);
      if (existing) return { artifact: existing, created: false };
    }
    await appendAudit(
      trx,
      {
        actor: actorLabel(actor),
        action: "artifact.uploaded",
        targetType: "artifact",
        targetId: sha256,
        data: {
          package: row.package_name,
          version: row.package_version,
          arch: row.arch,
          size: row.size,
          keyId: row.key_id,
        },
      },
      now,
    );
    return { artifact: metaOf(row), created: true };
  });
}

async function findArtifact(db: Kysely<Database>, sha256: string): Promise<ArtifactMeta | null> {
  if (!SHA256_HEX.test(sha256)) return null;
  const row = await db
    .selectFrom("artifacts")
    .select(META_COLUMNS)
    .where("sha256", "=", sha256)
    .executeTakeFirst();
  return row ? metaOf(row) : null;
}

function notFound(sha256: string) {
  return reasonError("artifact.not-found", `no artifact with sha256 ${sha256.slice(0, 64)}`, {
    where: "/params/sha256",
  });
}

export async function getArtifact(db: Kysely<Database>, sha256: string): Promise<ArtifactMeta> {
  const found = await findArtifact(db, sha256);
  if (!found) throw notFound(sha256);
  return found;
}

export interface ArtifactFilter {
  package?: string;
  version?: string;
  limit?: number;
}

/** Newest first. */
export async function listArtifacts(
  db: Kysely<Database>,
  filter: ArtifactFilter = {},
): Promise<ArtifactMeta[]> {
  let query = db.selectFrom("artifacts").select(META_COLUMNS);
  if (filter.package !== undefined) query = query.where("package_name", "=", filter.package);
  if (filter.version !== undefined) query = query.where("package_version", "=", filter.version);
  const rows = await query
    .orderBy("created_at", "desc")
    .orderBy("sha256")
    .limit(filter.limit ?? 500)
    .execute();
  return rows.map(metaOf);
}

/**
 * The bytes of an artifact. A person's token reads any; an agent reads only what an operation of its
 * own asset names (the patch or a pre-patch package offered for rollback): a credential stolen from
 * one host does not browse the store.
 */
export async function readArtifact(
  db: Kysely<Database>,
  actor: Actor,
  sha256: string,
): Promise<{ meta: ArtifactMeta; content: Buffer }> {
  await assertMayRead(db, actor, sha256);
  const [row] = (await artifactWithContent(db, sha256)).rows;
  if (!row) throw notFound(sha256);
  return { meta: metaOf(row), content: Buffer.from(row.content) };
}

/** A person reads any artifact; an agent only those its own asset's operations name. */
export async function assertMayRead(db: Kysely<Database>, actor: Actor, sha256: string): Promise<void> {
  if (!SHA256_HEX.test(sha256)) throw notFound(sha256);
  if (actor.kind === "agent" && !(await namedForAsset(db, actor.assetId, sha256))) {
    throw reasonError("artifact.not-yours", "no operation of this agent's asset names this artifact", {
      where: "/params/sha256",
    });
  }
}

// Every host's download runs these: compiled once (see preparedQuery).
const artifactWithContent = preparedQuery((db, sha256: string) =>
  db
    .selectFrom("artifacts")
    .select([...META_COLUMNS, "content"])
    .where("sha256", "=", sha256),
);
const payloadsNaming = preparedQuery((db, assetId: string, pattern: string) =>
  db
    .selectFrom("operations")
    .select("payload")
    .where("asset_id", "=", assetId)
    .where("payload", "like", pattern)
    .limit(20),
);

async function namedForAsset(db: Kysely<Database>, assetId: string | null, sha256: string): Promise<boolean> {
  if (assetId === null) return false;
  // The digest is 64 hex characters: a substring match on the payload JSON is exact enough to narrow,
  // and the parsed payload confirms it.
  const { rows } = await payloadsNaming(db, assetId, `%${sha256}%`);
  return rows.some((r) => {
    const payload = JSON.parse(r.payload) as {
      artifact?: { sha256?: string };
      alsoArtifacts?: Array<{ sha256?: string }>;
      rollbackArtifacts?: Array<{ sha256?: string }>;
      snapshot?: { packages?: Array<{ artifactSha256?: string | null }> };
    };
    return (
      payload.artifact?.sha256 === sha256 ||
      (payload.alsoArtifacts ?? []).some((a) => a.sha256 === sha256) ||
      (payload.rollbackArtifacts ?? []).some((a) => a.sha256 === sha256) ||
      (payload.snapshot?.packages ?? []).some((p) => p.artifactSha256 === sha256)
    );
  });
}
