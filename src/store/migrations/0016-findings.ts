import type { Kysely } from "kysely";

/**
 * The binary packages a change patches besides its own `package_name`: a change drafted from
 * findings covers every binary of one source package (openssh-client and openssh-server, libssl3 and
 * openssl), and its plan targets the assets with any of them below the version. A JSON array of
 * names; additive, "[]" for every change made before.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .alterTable("change_requests")
    .addColumn("also_packages", "text", (c) => c.notNull().defaultTo("[]"))
    .execute();
}
