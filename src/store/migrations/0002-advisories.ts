import type { Kysely } from "kysely";

/** Advisories (OSV records with KEV and EPSS facts) and the findings matched from them. */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable("advisories")
    .addColumn("id", "text", (c) => c.primaryKey())
    .addColumn("modified", "text", (c) => c.notNull())
    .addColumn("published", "text")
    .addColumn("withdrawn", "text")
    .addColumn("summary", "text", (c) => c.notNull())
    .addColumn("aliases", "text", (c) => c.notNull())
    .addColumn("severity_score", "real")
    .addColumn("severity_vector", "text")
    .addColumn("severity_version", "text")
    .addColumn("git_ranges", "integer", (c) => c.notNull())
    .addColumn("record", "text", (c) => c.notNull())
    .addColumn("source", "text", (c) => c.notNull())
    .addColumn("imported_at", "text", (c) => c.notNull())
    .execute();

  // One row per affected[] entry, keyed for lookup by (ecosystem, name).
  await db.schema
    .createTable("advisory_packages")
    .addColumn("advisory_id", "text", (c) => c.notNull().references("advisories.id").onDelete("cascade"))
    .addColumn("idx", "integer", (c) => c.notNull())
    .addColumn("ecosystem", "text", (c) => c.notNull())
    .addColumn("ecosystem_release", "text", (c) => c.notNull())
    .addColumn("name", "text", (c) => c.notNull())
    .addColumn("affected", "text", (c) => c.notNull())
    .addPrimaryKeyConstraint("advisory_packages_pk", ["advisory_id", "idx"])
    .execute();
  await db.schema
    .createIndex("advisory_packages_by_name")
    .on("advisory_packages")
    .columns(["ecosystem", "name"])
    .execute();

  await db.schema
    .createTable("advisory_aliases")
    .addColumn("alias", "text", (c) => c.notNull())
    .addColumn("advisory_id", "text", (c) => c.notNull().references("advisories.id").onDelete("cascade"))
    .addPrimaryKeyConstraint("advisory_aliases_pk", ["alias", "advisory_id"])
    .execute();
  await db.schema
    .createIndex("advisory_aliases_by_advisory")
    .on("advisory_aliases")
    .columns(["advisory_id"])
    .execute();

  await db.schema
    .createTable("kev_entries")
    .addColumn("cve", "text", (c) => c.primaryKey())
    .addColumn("vendor", "text", (c) => c.notNull())
    .addColumn("product", "text", (c) => c.notNull())
    .addColumn("name", "text", (c) => c.notNull())
    .addColumn("date_added", "text", (c) => c.notNull())
    .addColumn("due_date", "text")
    .addColumn("ransomware", "integer", (c) => c.notNull())
    .addColumn("catalog_version", "text", (c) => c.notNull())
    .execute();

  await db.schema
    .createTable("epss_scores")
    .addColumn("cve", "text", (c) => c.primaryKey())
    .addColumn("epss", "real", (c) => c.notNull())
    .addColumn("percentile", "real", (c) => c.notNull())
    .addColumn("score_date", "text")
    .execute();

  // A finding's identity is (asset, package, arch, vulnerability): the installed version may move
  // while it stays affected; once it moves past the fix the finding becomes `fixed`.
  await db.schema
    .createTable("findings")
    .addColumn("id", "text", (c) => c.primaryKey())
    .addColumn("asset_id", "text", (c) => c.notNull().references("assets.id").onDelete("cascade"))
    .addColumn("ecosystem", "text", (c) => c.notNull())
    .addColumn("package_name", "text", (c) => c.notNull())
    .addColumn("arch", "text", (c) => c.notNull())
    .addColumn("installed_version", "text", (c) => c.notNull())
    .addColumn("vuln_id", "text", (c) => c.notNull())
    .addColumn("advisory_ids", "text", (c) => c.notNull())
    .addColumn("aliases", "text", (c) => c.notNull())
    .addColumn("fixed_version", "text")
    .addColumn("severity_score", "real")
    .addColumn("severity_vector", "text")
    .addColumn("epss", "real")
    .addColumn("kev", "integer", (c) => c.notNull())
    .addColumn("risk_score", "real", (c) => c.notNull())
    .addColumn("class", "text", (c) => c.notNull())
    .addColumn("status", "text", (c) => c.notNull())
    .addColumn("status_reason", "text")
    .addColumn("status_by", "text")
    .addColumn("status_expires_at", "text")
    .addColumn("first_seen", "text", (c) => c.notNull())
    .addColumn("due_at", "text")
    .addColumn("updated_at", "text", (c) => c.notNull())
    .execute();
  await db.schema
    .createIndex("findings_identity")
    .on("findings")
    .columns(["asset_id", "ecosystem", "package_name", "arch", "vuln_id"])
    .unique()
    .execute();
  await db.schema.createIndex("findings_by_vuln").on("findings").columns(["vuln_id"]).execute();
  await db.schema
    .createIndex("findings_by_status_class")
    .on("findings")
    .columns(["status", "class"])
    .execute();
}
