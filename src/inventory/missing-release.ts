/**
 * Assets whose Debian or Ubuntu packages name no release ("Debian" rather than "Debian:12"): only
 * advisories without a release apply to them, so advisories for the release they run never match.
 * `assets list` shows them; the check is two primary-key probes per asset (asset, then ecosystem).
 */
import type { Kysely } from "kysely";
import type { Database } from "../store/schema.js";

const DISTROS = ["Debian", "Ubuntu"] as const;

/** Asset id → the distributions it has packages of without a release (only assets with some). */
export async function assetsMissingRelease(db: Kysely<Database>): Promise<Map<string, string[]>> {
  const rows = await db
    .selectFrom("assets as a")
    .select((eb) => [
      "a.id",
      ...DISTROS.map((distro) =>
        eb
          .exists(
            eb
              .selectFrom("installed_packages as ip")
              .select("ip.name")
              .whereRef("ip.asset_id", "=", "a.id")
              .where("ip.ecosystem", "=", distro),
          )
          .as(distro),
      ),
    ])
    .execute();
  const out = new Map<string, string[]>();
  for (const row of rows) {
    // SQLite answers EXISTS with 0 or 1, PostgreSQL with a boolean.
    const missing = DISTROS.filter((d) => Number(row[d]) === 1);
    if (missing.length > 0) out.set(row.id, missing);
  }
  return out;
}

/** The same from an asset's package list. */
export function missingReleaseOf(packages: ReadonlyArray<{ ecosystem: string }>): string[] {
  return DISTROS.filter((d) => packages.some((p) => p.ecosystem === d));
}
