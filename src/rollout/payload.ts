/**
 * What an operation asks the host to do, built when the engine inserts it (inside the same write): the
 * artifact the plan pins, the pre-patch .debs the server holds, the snapshot to return to, and the
 * frozen health checks with the asset's placeholders filled in.
 */
import type { Kysely } from "kysely";
import type { PlanV2 } from "../changes/plan.js";
import { isAppError } from "../domain/errors.js";
import type { Database } from "../store/schema.js";
import { resolveHealthChecks } from "../verify/resolve.js";
import type { OperationAction } from "./model.js";
import type { ArtifactRef, CheckContext, OperationPayload } from "./operation.js";
import type { ViewAsset } from "./view.js";

type ArtifactRow = {
  sha256: string;
  file_name: string;
  package_name: string;
  package_version: string;
  arch: string;
  size: number;
  signature: string;
};

const refOf = (row: ArtifactRow): ArtifactRef => ({
  sha256: row.sha256,
  fileName: row.file_name,
  package: row.package_name,
  version: row.package_version,
  arch: row.arch,
  size: Number(row.size),
  signature: row.signature,
});

const ARTIFACT_COLUMNS = [
  "sha256",
  "file_name",
  "package_name",
  "package_version",
  "arch",
  "size",
  "signature",
] as const;

export interface PayloadRequest {
  asset: ViewAsset;
  action: OperationAction;
}

/** A payload, or why none can be built for this asset (its operation then fails without dispatch). */
export type PayloadOrError = OperationPayload | { error: string };

/**
 * The frozen checks with this asset's placeholders filled in. A label the asset lacks (removed after
 * planning) is the asset's failure, not the engine's: the caller records it on the operation.
 */
function checksFor(plan: PlanV2, ctx: CheckContext): OperationPayload["healthChecks"] | { error: string } {
  try {
    return resolveHealthChecks(plan.verification.healthChecks, ctx);
  } catch (err) {
    if (isAppError(err)) return { error: err.describe() };
    throw err;
  }
}

/** Builds the payload of each requested operation, reading the store once per kind of fact. */
export async function buildPayloads(
  trx: Kysely<Database>,
  plan: PlanV2,
  requests: readonly PayloadRequest[],
): Promise<PayloadOrError[]> {
  if (requests.length === 0) return [];
  const sha = plan.patch.artifactSha256;
  const alsoShas = (plan.patch.alsoArtifacts ?? []).map((a) => a.sha256);
  const shas = [...(sha === null ? [] : [sha]), ...alsoShas];
  const patchRows =
    shas.length === 0
      ? []
      : await trx.selectFrom("artifacts").select(ARTIFACT_COLUMNS).where("sha256", "in", shas).execute();
  const artifact = patchRows.find((r) => r.sha256 === sha);
  const alsoArtifacts = alsoShas
    .map((s) => patchRows.find((r) => r.sha256 === s))
    .filter((r): r is ArtifactRow => r !== undefined)
    .map(refOf);
  const packages = [plan.patch.package, ...(plan.patch.alsoArtifacts ?? []).map((a) => a.package)];
  const fromVersions = [
    ...new Set(requests.map((r) => r.asset.fromVersion).filter((v): v is string => v !== null)),
  ];
  const rollbackRows =
    fromVersions.length === 0
      ? []
      : await trx
          .selectFrom("artifacts")
          .select(ARTIFACT_COLUMNS)
          .where("package_name", "in", packages)
          .where("package_version", "in", fromVersions)
          .execute();
  const ids = [...new Set(requests.map((r) => r.asset.id))];
  const inventory = new Map<string, CheckContext>();
  for (let i = 0; i < ids.length; i += 500) {
    const rows = await trx
      .selectFrom("assets")
      .select(["id", "name", "environment", "group_name", "region", "labels"])
      .where("id", "in", ids.slice(i, i + 500))
      .execute();
    for (const row of rows) {
      inventory.set(row.id, {
        name: row.name,
        environment: row.environment,
        group: row.group_name,
        region: row.region,
        labels: JSON.parse(row.labels) as Record<string, string>,
      });
    }
  }
  return requests.map(({ asset, action }) => {
    const ctx: CheckContext = inventory.get(asset.id) ?? {
      name: asset.name,
      environment: "",
      group: asset.group,
      region: asset.region,
      labels: {},
    };
    const rollbackArtifacts = rollbackRows.filter((r) => r.package_version === asset.fromVersion).map(refOf);
    const healthChecks = checksFor(plan, ctx);
    if ("error" in healthChecks) return healthChecks;
    const base = {
      package: plan.patch.package,
      rollbackArtifacts,
      snapshotProvider: "dpkg",
      snapshotRequired: true,
      healthChecks,
    };
    if (action === "patch") {
      return {
        ...base,
        ...(artifact ? { artifact: refOf(artifact) } : {}),
        ...(alsoArtifacts.length > 0 ? { alsoArtifacts } : {}),
        toVersion: asset.toVersion,
      };
    }
    if (action === "revert") {
      return {
        ...base,
        ...(asset.fromVersion === null ? {} : { toVersion: asset.fromVersion }),
        ...(asset.snapshot === null ? {} : { snapshot: asset.snapshot }),
      };
    }
    // A verification reads back the other binaries too: it learns their names from their files.
    return { ...base, ...(alsoArtifacts.length > 0 ? { alsoArtifacts } : {}), toVersion: asset.toVersion };
  });
}
