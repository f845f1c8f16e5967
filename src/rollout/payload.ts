/**
 * What an operation asks the host to do, built when the engine inserts it (inside the same write): the
 * artifact the plan pins, the pre-patch .debs the server holds, the snapshot to return to, and the
 * frozen health checks with the asset's placeholders filled in.
 */
import type { Kysely } from "kysely";
import type { PlanV2 } from "../changes/plan.js";
import { parseDuration } from "../policy/duration.js";
import type { HealthCheck } from "../policy/schema.js";
import type { Database } from "../store/schema.js";
import type { OperationAction } from "./model.js";
import type { ArtifactRef, CheckContext, OperationPayload, ResolvedHealthCheck } from "./operation.js";
import type { ViewAsset } from "./view.js";

const PLACEHOLDER = /\{\{\s*([a-zA-Z][\w.-]*)\s*\}\}/g;

function placeholderValue(name: string, ctx: CheckContext): string | undefined {
  if (name.startsWith("labels.")) return ctx.labels[name.slice("labels.".length)];
  if (name === "name" || name === "environment" || name === "group" || name === "region") return ctx[name];
  return undefined;
}

/**
 * Fills `{{name}}`, `{{environment}}`, `{{group}}`, `{{region}}` and `{{labels.KEY}}`. Values in a URL
 * are percent-encoded; argv gets them verbatim (no shell ever runs it). An unknown placeholder is
 * left as written, so the check fails on the host and says which.
 */
export function resolveHealthChecks(
  checks: readonly HealthCheck[],
  ctx: CheckContext,
): ResolvedHealthCheck[] {
  const fill = (text: string, encode: boolean) =>
    text.replace(PLACEHOLDER, (whole, name: string) => {
      const value = placeholderValue(name, ctx);
      if (value === undefined) return whole;
      return encode ? encodeURIComponent(value) : value;
    });
  return checks.map((c) => ({
    name: c.name,
    ...(c.http === undefined ? {} : { http: fill(c.http, true) }),
    expectStatus: c.expectStatus,
    ...(c.bodyMatch === undefined ? {} : { bodyMatch: c.bodyMatch }),
    ...(c.command === undefined ? {} : { command: c.command.map((arg) => fill(arg, false)) }),
    expectExit: c.expectExit,
    timeoutMs: parseDuration(c.timeout),
    retries: c.retries,
    intervalMs: parseDuration(c.interval),
  }));
}

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

/** Builds the payload of each requested operation, reading the store once per kind of fact. */
export async function buildPayloads(
  trx: Kysely<Database>,
  plan: PlanV2,
  requests: readonly PayloadRequest[],
): Promise<OperationPayload[]> {
  if (requests.length === 0) return [];
  const sha = plan.patch.artifactSha256;
  const artifact =
    sha === null
      ? undefined
      : await trx
          .selectFrom("artifacts")
          .select(ARTIFACT_COLUMNS)
          .where("sha256", "=", sha)
          .executeTakeFirst();
  const fromVersions = [
    ...new Set(requests.map((r) => r.asset.fromVersion).filter((v): v is string => v !== null)),
  ];
  const rollbackRows =
    fromVersions.length === 0
      ? []
      : await trx
          .selectFrom("artifacts")
          .select(ARTIFACT_COLUMNS)
          .where("package_name", "=", plan.patch.package)
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
    const base = {
      package: plan.patch.package,
      rollbackArtifacts,
      snapshotProvider: "dpkg",
      snapshotRequired: true,
      healthChecks: resolveHealthChecks(plan.verification.healthChecks, ctx),
    };
    if (action === "patch") {
      return { ...base, ...(artifact ? { artifact: refOf(artifact) } : {}), toVersion: asset.toVersion };
    }
    if (action === "revert") {
      return {
        ...base,
        ...(asset.fromVersion === null ? {} : { toVersion: asset.fromVersion }),
        ...(asset.snapshot === null ? {} : { snapshot: asset.snapshot }),
      };
    }
    return { ...base, toVersion: asset.toVersion };
  });
}
