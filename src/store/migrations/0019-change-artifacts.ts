import type { Kysely } from "kysely";

/**
 * The package files a change installs besides its own package's (artifact_name, artifact_sha256): one
 * per other binary of the source (openssh-server with openssh-client), installed in one dpkg call. A
 * JSON array of {package, name, sha256}; additive, "[]" for every change made before.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .alterTable("change_requests")
    .addColumn("also_artifacts", "text", (c) => c.notNull().defaultTo("[]"))
    .execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable("change_requests").dropColumn("also_artifacts").execute();
}
