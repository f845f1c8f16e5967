/**
 * The version of a change's package installed on each asset, as the planner needs it: read for all the
 * resolved assets at once (in chunks, under the bind-parameter limits), then reduced to one ecosystem
 * and one version per asset.
 */
import type { Kysely } from "kysely";
import { canonicalEcosystem, schemeForEcosystem } from "../ecosystems/registry.js";
import type { Database } from "../store/schema.js";

/** Asset ids per query: well under SQLite's and PostgreSQL's bound-parameter limits. */
const CHUNK = 500;

/** Ecosystems whose packages the dpkg executor installs: preferred when a name exists in several. */
const DPKG_ECOSYSTEMS = new Set(["Debian", "Ubuntu"]);

/** The ecosystem the plan assumes when no asset has the package (every asset is then skipped). */
export const DEFAULT_PATCH_ECOSYSTEM = "Debian";

export interface InstalledRow {
  asset_id: string;
  ecosystem: string;
  version: string;
}

/**
 * Every installed row of the packages on these assets, by binary package name: a change's own package
 * and the other binaries of its source it patches too (installedVersions keeps the lowest per asset,
 * so an asset with any of them below the version is a target).
 */
export async function installedRows(
  db: Kysely<Database>,
  assetIds: readonly string[],
  packageNames: string | readonly string[],
): Promise<InstalledRow[]> {
  const names = typeof packageNames === "string" ? [packageNames] : [...packageNames];
  const out: InstalledRow[] = [];
  for (let i = 0; i < assetIds.length; i += CHUNK) {
    out.push(
      ...(await db
        .selectFrom("installed_packages")
        .select(["asset_id", "ecosystem", "version"])
        .where("name", "in", names)
        .where("asset_id", "in", assetIds.slice(i, i + CHUNK))
        .execute()),
    );
  }
  return out;
}

/** The binary packages a change patches: its own and the others it lists (one source package's). */
export function packagesOfChange(row: { package_name: string; also_packages?: string | null }): string[] {
  const also = row.also_packages ? (JSON.parse(row.also_packages) as string[]) : [];
  return [row.package_name, ...also.filter((n) => n !== row.package_name)];
}

export interface SourceOfBinary {
  asset_id: string;
  name: string;
  source_name: string | null;
}

/** The source package of each of these binaries on these assets (null when the row names none). */
export async function sourcesOfBinaries(
  db: Kysely<Database>,
  assetIds: readonly string[],
  names: readonly string[],
): Promise<SourceOfBinary[]> {
  const out: SourceOfBinary[] = [];
  if (names.length === 0) return out;
  for (let i = 0; i < assetIds.length; i += CHUNK) {
    for (let j = 0; j < names.length; j += CHUNK) {
      out.push(
        ...(await db
          .selectFrom("installed_packages")
          .select(["asset_id", "name", "source_name"])
          .where("asset_id", "in", assetIds.slice(i, i + CHUNK))
          .where("name", "in", names.slice(j, j + CHUNK))
          .execute()),
      );
    }
  }
  return out;
}

function baseOf(ecosystem: string): string | null {
  try {
    return canonicalEcosystem(ecosystem);
  } catch {
    return null;
  }
}

/**
 * The patch's ecosystem and the installed version per asset. The ecosystem is the one the package is
 * installed under on the most assets, a dpkg one (Debian, Ubuntu) first; rows of other ecosystems do
 * not count. An asset with several rows (one per architecture) gets the lowest version: it is the
 * one the patch must raise.
 */
export function installedVersions(rows: readonly InstalledRow[]): {
  ecosystem: string;
  installed: Map<string, string>;
} {
  const assetsBy = new Map<string, Set<string>>();
  for (const r of rows) {
    const base = baseOf(r.ecosystem);
    if (base === null) continue;
    const set = assetsBy.get(base) ?? new Set<string>();
    set.add(r.asset_id);
    assetsBy.set(base, set);
  }
  const ranked = [...assetsBy].sort(
    ([a, x], [b, y]) =>
      Number(DPKG_ECOSYSTEMS.has(b)) - Number(DPKG_ECOSYSTEMS.has(a)) ||
      y.size - x.size ||
      (a < b ? -1 : a > b ? 1 : 0),
  );
  const ecosystem = ranked[0]?.[0] ?? DEFAULT_PATCH_ECOSYSTEM;
  const installed = new Map<string, string>();
  if (ranked.length === 0) return { ecosystem, installed };
  const scheme = schemeForEcosystem(ecosystem);
  const lower = (a: string, b: string): string => {
    // A version the scheme cannot read wins: the planner skips the asset and says why.
    if (!scheme.isValid(a)) return a;
    if (!scheme.isValid(b)) return b;
    return scheme.compare(a, b) <= 0 ? a : b;
  };
  for (const r of rows) {
    if (baseOf(r.ecosystem) !== ecosystem) continue;
    const seen = installed.get(r.asset_id);
    installed.set(r.asset_id, seen === undefined ? r.version : lower(seen, r.version));
  }
  return { ecosystem, installed };
}
