/**
 * A change's stored plan as version 2, with what an upgrade of a version-1 plan needs looked up in the
 * store: the assets' ids and placement by name, the package's installed versions, the pinned policy.
 * Every reader of `change_requests.plan` goes through here or through readPlan.
 */
import type { Kysely } from "kysely";
import { isAppError } from "../domain/errors.js";
import { loadPinnedPolicy } from "../policy/store.js";
import type { Database } from "../store/schema.js";
import { alsoArtifactsOfRow } from "./change-artifacts.js";
import { installedRows, installedVersions, packagesOfChange } from "./installed.js";
import type { PlanPatch, PlanV2 } from "./plan.js";
import { type PlanUpgrade, readPlan, type UpgradeAsset, versionOneAssetNames } from "./plan-read.js";
import type { ChangeRow } from "./records.js";

const CHUNK = 500;

export type PlanRow = Pick<
  ChangeRow,
  | "plan"
  | "package_name"
  | "also_packages"
  | "package_version"
  | "artifact_sha256"
  | "also_artifacts"
  | "policy_name"
  | "policy_version"
  | "policy_hash"
>;

function alsoOf(row: PlanRow): Pick<PlanPatch, "alsoArtifacts"> {
  const also = alsoArtifactsOfRow(row);
  return also.length === 0
    ? {}
    : { alsoArtifacts: also.map((a) => ({ package: a.package, sha256: a.sha256 })) };
}

/** The patch a change rolls out, in `ecosystem`. */
export function patchOfRow(row: PlanRow, ecosystem: string): PlanPatch {
  return {
    ecosystem,
    package: row.package_name,
    version: row.package_version,
    artifactSha256: row.artifact_sha256,
    ...alsoOf(row),
  };
}

async function upgradeFacts(
  db: Kysely<Database>,
  row: PlanRow,
  names: readonly string[],
): Promise<PlanUpgrade> {
  const found: Array<{ id: string; name: string; environment: string; group_name: string; region: string }> =
    [];
  const unique = [...new Set(names)];
  for (let i = 0; i < unique.length; i += CHUNK) {
    found.push(
      ...(await db
        .selectFrom("assets")
        .select(["id", "name", "environment", "group_name", "region"])
        .where("name", "in", unique.slice(i, i + CHUNK))
        .execute()),
    );
  }
  const { ecosystem, installed } = installedVersions(
    await installedRows(
      db,
      found.map((a) => a.id),
      packagesOfChange(row),
    ),
  );
  const assets = new Map<string, UpgradeAsset>(
    found.map((a) => [
      a.name,
      {
        id: a.id,
        environment: a.environment,
        group: a.group_name,
        region: a.region,
        installedVersion: installed.get(a.id) ?? null,
      },
    ]),
  );
  let policy: PlanUpgrade["policy"];
  try {
    policy = await loadPinnedPolicy(db, {
      name: row.policy_name,
      version: Number(row.policy_version),
      hash: row.policy_hash,
    });
  } catch (err) {
    // A pinned policy that is gone or altered: the schema's defaults stand in for what v1 did not record.
    if (!isAppError(err)) throw err;
  }
  return { patch: patchOfRow(row, ecosystem), assets, ...(policy === undefined ? {} : { policy }) };
}

/** The change's plan as version 2; null when it has none stored. */
export async function loadStoredPlan(db: Kysely<Database>, row: PlanRow): Promise<PlanV2 | null> {
  if (row.plan === null) return null;
  const names = versionOneAssetNames(row.plan);
  if (names === null) return readPlan(row.plan);
  return readPlan(row.plan, await upgradeFacts(db, row, names));
}
