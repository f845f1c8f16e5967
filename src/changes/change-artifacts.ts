/**
 * A change's package files, one per binary package it installs: each must be in the artifact store and
 * be the change's package or one of its alsoPackages at the change's version, and every binary of the
 * change installed on a target below that version must have one (the agent installs them together).
 */
import type { Kysely } from "kysely";
import { reasonError } from "../domain/errors.js";
import type { Asset } from "../domain/inventory.js";
import { schemeForEcosystem } from "../ecosystems/registry.js";
import type { Database } from "../store/schema.js";
import { artifactsOfInput, type ParsedChangeInput } from "./change-input.js";
import { DEFAULT_PATCH_ECOSYSTEM } from "./installed.js";

export interface AlsoArtifact {
  package: string;
  name: string;
  sha256: string;
}

/** The artifact of the change's own package, and those of its other binaries. */
export interface ChangeArtifacts {
  main: { name: string; sha256: string } | null;
  also: AlsoArtifact[];
}

/**
 * Checks the files against the store when the input lists `artifacts` (a lone `artifact` is taken as
 * the change's package, as before), and sorts them into the change's own and the others.
 */
export async function resolveChangeArtifacts(
  db: Kysely<Database>,
  input: ParsedChangeInput,
  packages: readonly string[],
): Promise<ChangeArtifacts> {
  const given = artifactsOfInput(input);
  if (input.artifacts === undefined) {
    const only = given[0];
    return { main: only ? { name: only.name, sha256: only.sha256 } : null, also: [] };
  }
  const rows = await db
    .selectFrom("artifacts")
    .select(["sha256", "package_name", "package_version"])
    .where(
      "sha256",
      "in",
      given.map((a) => a.sha256),
    )
    .execute();
  const bySha = new Map(rows.map((r) => [r.sha256, r]));
  const seen = new Map<string, string>();
  const out: ChangeArtifacts = { main: null, also: [] };
  for (const a of given) {
    const row = bySha.get(a.sha256);
    if (!row) {
      throw reasonError(
        "change.artifact-unknown",
        `no artifact with sha256 ${a.sha256} is in the artifact store: upload ${a.name} first`,
        { where: `${a.where}/sha256` },
      );
    }
    if (!packages.includes(row.package_name) || row.package_version !== input.version) {
      throw reasonError(
        "change.artifact-mismatch",
        `${a.name} is ${row.package_name} ${row.package_version}, but the change installs ${packages.join(", ")} at ${input.version}`,
        { where: a.where },
      );
    }
    const twice = seen.get(row.package_name);
    if (twice !== undefined) {
      throw reasonError(
        "change.artifact-mismatch",
        `${a.name} and ${twice} are both ${row.package_name}: give one file per package`,
        { where: a.where },
      );
    }
    seen.set(row.package_name, a.name);
    if (row.package_name === input.package) out.main = { name: a.name, sha256: a.sha256 };
    else out.also.push({ package: row.package_name, name: a.name, sha256: a.sha256 });
  }
  out.also.sort((x, y) => (x.package < y.package ? -1 : x.package > y.package ? 1 : 0));
  return out;
}

/**
 * Refuses a change with files whose targets have one of its binaries installed below its version with
 * no file for it: the agent would leave that binary behind (or dpkg refuse the set).
 */
export async function requireArtifactCoverage(
  db: Kysely<Database>,
  targets: readonly Asset[],
  change: { package: string; alsoPackages: readonly string[]; version: string; artifacts: ChangeArtifacts },
): Promise<void> {
  const { artifacts } = change;
  if (artifacts.main === null && artifacts.also.length === 0) return;
  const covered = new Set([
    ...(artifacts.main ? [change.package] : []),
    ...artifacts.also.map((a) => a.package),
  ]);
  const uncovered = [change.package, ...change.alsoPackages].filter((p) => !covered.has(p));
  if (uncovered.length === 0) return;
  const rows = await db
    .selectFrom("installed_packages")
    .select(["asset_id", "name", "ecosystem", "version"])
    .where("name", "in", uncovered)
    .execute();
  const ids = new Set(targets.map((t) => t.id));
  const names = new Map(targets.map((t) => [t.id, t.name]));
  const below = rows.filter((r) => ids.has(r.asset_id) && isBelow(r.ecosystem, r.version, change.version));
  const first = below[0];
  if (first === undefined) return;
  const hosts = [...new Set(below.filter((r) => r.name === first.name).map((r) => names.get(r.asset_id)))];
  throw reasonError(
    "change.artifact-missing",
    `${first.name} is installed below ${change.version} on ${hosts.slice(0, 3).join(", ")}${hosts.length > 3 ? ` and ${hosts.length - 3} more` : ""}, but no artifact of the change is ${first.name}: add its ${change.version} file to artifacts (change create --artifact FILE.deb)`,
    { where: "/artifacts" },
  );
}

function isBelow(ecosystem: string, installed: string, version: string): boolean {
  try {
    const scheme = schemeForEcosystem(ecosystem);
    return scheme.compare(installed, version) < 0;
  } catch {
    return schemeForEcosystem(DEFAULT_PATCH_ECOSYSTEM).compare(installed, version) < 0;
  }
}

/** The stored column's value. */
export function alsoArtifactsOfRow(row: { also_artifacts?: string | null }): AlsoArtifact[] {
  return row.also_artifacts ? (JSON.parse(row.also_artifacts) as AlsoArtifact[]) : [];
}
