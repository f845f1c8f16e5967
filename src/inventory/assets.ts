import { randomUUID } from "node:crypto";
import type { Kysely, Selectable } from "kysely";
import { z } from "zod";
import { appendAudit } from "../audit/log.js";
import { ConflictError, NotFoundError, ValidationError } from "../domain/errors.js";
import {
  ASSET_KINDS,
  type Asset,
  type AssetKind,
  assetSchema,
  packageRecordSchema,
} from "../domain/inventory.js";
import { LABEL_VALUE_PATTERN as LABEL_VALUE } from "../domain/names.js";
import { type Actor, actorLabel } from "../domain/roles.js";
import { matchesSelector, parseSelector, RESERVED_LABEL_KEYS, selectorView } from "../domain/selector.js";
import type { ServiceContext } from "../service/context.js";
import type { AssetsTable, Database } from "../store/schema.js";
import { assetsMissingRelease, missingReleaseOf } from "./missing-release.js";
import { packageDictionary } from "./package-dictionary.js";
import { deleteSetPairs } from "./package-log.js";
import { readPackageSet, storedPackages } from "./report.js";

const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,252}$/;
const LABEL_KEY = /^([a-z0-9]([-a-z0-9.]*[a-z0-9])?\/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$/;

export const assetNameSchema = z
  .string()
  .regex(NAME, "asset names are 1–253 of A-Z a-z 0-9 . _ - starting alphanumeric");

export const placementSchema = z.object({
  kind: z.enum(ASSET_KINDS).optional(),
  environment: z.string().max(63).optional(),
  group: z.string().max(63).optional(),
  region: z.string().max(63).optional(),
  owner: z.string().max(253).optional(),
  criticality: z.number().int().min(1).max(5).optional(),
  labels: z.record(z.string(), z.string()).optional(),
});
export type Placement = z.infer<typeof placementSchema>;

export const assetPatchSchema = placementSchema.omit({ labels: true }).extend({
  labels: z
    .object({ set: z.record(z.string(), z.string()).optional(), remove: z.array(z.string()).optional() })
    .optional(),
});
export type AssetPatch = z.infer<typeof assetPatchSchema>;

export function rowToAsset(row: Selectable<AssetsTable>): Asset {
  return {
    id: row.id,
    name: row.name,
    kind: row.kind as AssetKind,
    environment: row.environment,
    group: row.group_name,
    region: row.region,
    owner: row.owner,
    criticality: Number(row.criticality),
    labels: JSON.parse(row.labels) as Record<string, string>,
    agentStatus: row.agent_status as Asset["agentStatus"],
    createdAt: row.created_at,
    lastSeen: row.last_seen_at,
  };
}

/**
 * The one rule for values a selector matches: a label value as Kubernetes spells it (at most 63 of
 * A-Z a-z 0-9 - _ ., starting and ending alphanumeric, or empty). Labels and the placement fields
 * share it, so every value can be named in a selector and none carries NUL, commas or shell syntax.
 */
export function validateLabelValue(
  value: string,
  where: string,
  what = "label value",
  reason: "validation" | "asset.invalid-placement" = "validation",
): void {
  if (!LABEL_VALUE.test(value)) {
    throw new ValidationError(
      `${what} ${JSON.stringify(value)} is not a valid value (≤ 63 of A-Z a-z 0-9 - _ ., starting and ending with a letter or digit)`,
      { where, reason },
    );
  }
}

/** Label keys and values as Kubernetes spells them; built-in field names are reserved for selectors. */
export function validateLabels(labels: Record<string, string>, pointer = "/labels"): void {
  for (const [key, value] of Object.entries(labels)) {
    if (!LABEL_KEY.test(key))
      throw new ValidationError(`label key "${key}" is not a valid key`, { where: `${pointer}/${key}` });
    if (RESERVED_LABEL_KEYS.has(key)) {
      throw new ValidationError(`label key "${key}" is reserved for the asset's own field`, {
        where: `${pointer}/${key}`,
      });
    }
    validateLabelValue(value, `${pointer}/${key}`);
  }
}

const PLACEMENT_FIELDS = ["environment", "group", "region", "owner"] as const;

/** Environment, group, region and owner follow the label value rule (see validateLabelValue). */
export function validatePlacement(
  placement: Partial<Record<(typeof PLACEMENT_FIELDS)[number], string | undefined>>,
  pointer = "",
): void {
  for (const field of PLACEMENT_FIELDS) {
    const value = placement[field];
    if (value !== undefined)
      validateLabelValue(value, `${pointer}/${field}`, field, "asset.invalid-placement");
  }
}

export async function findAssetRow(
  db: Kysely<Database>,
  name: string,
): Promise<Selectable<AssetsTable> | undefined> {
  return db.selectFrom("assets").selectAll().where("name", "=", name).executeTakeFirst();
}

async function requireAssetRow(db: Kysely<Database>, name: string): Promise<Selectable<AssetsTable>> {
  const row = await findAssetRow(db, name);
  if (!row) throw new NotFoundError(`no asset named "${name}"`);
  return row;
}

/** Creates an asset inside the caller's transaction (enrollment and imports create assets too). */
export async function insertAsset(
  trx: Kysely<Database>,
  actor: Actor,
  name: string,
  placement: Placement,
  now: Date,
  agentStatus: Asset["agentStatus"] = "none",
): Promise<Asset> {
  assetNameSchema.parse(name);
  validatePlacement(placement);
  if (placement.labels) validateLabels(placement.labels);
  const at = now.toISOString();
  const row: Selectable<AssetsTable> = {
    id: randomUUID(),
    name,
    kind: placement.kind ?? "host",
    environment: placement.environment ?? "",
    group_name: placement.group ?? "",
    region: placement.region ?? "",
    owner: placement.owner ?? "",
    criticality: placement.criticality ?? 3,
    labels: JSON.stringify(placement.labels ?? {}),
    agent_status: agentStatus,
    created_at: at,
    updated_at: at,
    last_seen_at: null,
  };
  await trx.insertInto("assets").values(row).execute();
  const asset = rowToAsset(row);
  const { id: _id, createdAt: _c, lastSeen: _l, ...fields } = asset;
  await appendAudit(
    trx,
    {
      actor: actorLabel(actor),
      action: "asset.created",
      targetType: "asset",
      targetId: row.id,
      data: fields,
    },
    now,
  );
  return asset;
}

export async function createAsset(
  ctx: ServiceContext,
  actor: Actor,
  name: string,
  placement: Placement,
): Promise<Asset> {
  return ctx.store.write(async (trx) => {
    if (await findAssetRow(trx, name)) throw new ConflictError(`an asset named "${name}" exists already`);
    return insertAsset(trx, actor, name, placement, ctx.now());
  });
}

export interface ListAssetsOptions {
  selector?: string;
}

/** An asset as listed: with the distributions whose packages it reports without a release. */
/** An asset as listed and shown: the distributions it reports packages of without a release. */
export const assetListEntrySchema = assetSchema
  .extend({
    /** "Debian" or "Ubuntu" when the asset has packages of it with no release (e.g. no os-release); [] otherwise. */
    missingRelease: z.array(z.string()),
  })
  .meta({ id: "AssetListEntry" });

export type AssetListEntry = z.infer<typeof assetListEntrySchema>;

export async function listAssets(
  ctx: ServiceContext,
  options: ListAssetsOptions = {},
): Promise<AssetListEntry[]> {
  // Parse first: a bad selector is an error even when there are no assets.
  const selector = options.selector ? parseSelector(options.selector) : null;
  const rows = await ctx.store.db.selectFrom("assets").selectAll().orderBy("name").execute();
  const assets = rows.map(rowToAsset);
  const chosen = selector ? assets.filter((a) => matchesSelector(selector, selectorView(a))) : assets;
  const missing =
    chosen.length === 0 ? new Map<string, string[]>() : await assetsMissingRelease(ctx.store.db);
  return chosen.map((a) => ({ ...a, missingRelease: missing.get(a.id) ?? [] }));
}

export const assetWithPackagesSchema = assetListEntrySchema
  .extend({ packages: z.array(packageRecordSchema) })
  .meta({ id: "AssetWithPackages" });

export type AssetWithPackages = z.infer<typeof assetWithPackagesSchema>;

export async function getAsset(ctx: ServiceContext, name: string): Promise<AssetWithPackages> {
  const row = await requireAssetRow(ctx.store.db, name);
  // The asset's set row names its package ids; the dictionary has the packages.
  const { packages } = await storedPackages(ctx.store.db, row.id, packageDictionary(ctx.store.db).session());
  const sorted = [...packages.values()].sort(
    (a, b) =>
      cmp(a.ecosystem, b.ecosystem) ||
      cmp(a.name, b.name) ||
      cmp(a.arch, b.arch) ||
      cmp(a.version, b.version),
  );
  return {
    ...rowToAsset(row),
    missingRelease: missingReleaseOf(sorted),
    packages: sorted.map((p) => ({
      ecosystem: p.ecosystem,
      name: p.name,
      version: p.version,
      arch: p.arch === "" ? null : p.arch,
      sourceName: p.sourceName,
      sourceVersion: p.sourceVersion,
      purl: p.purl === "" ? null : p.purl,
    })),
  };
}

const cmp = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

export async function updateAsset(
  ctx: ServiceContext,
  actor: Actor,
  name: string,
  patch: AssetPatch,
): Promise<Asset> {
  const parsed = assetPatchSchema.parse(patch);
  validatePlacement(parsed);
  if (parsed.labels?.set) validateLabels(parsed.labels.set, "/labels/set");
  return ctx.store.write(async (trx) => {
    const row = await requireAssetRow(trx, name);
    const before = rowToAsset(row);
    const labels = { ...before.labels, ...(parsed.labels?.set ?? {}) };
    for (const key of parsed.labels?.remove ?? []) delete labels[key];
    const after: Asset = {
      ...before,
      kind: parsed.kind ?? before.kind,
      environment: parsed.environment ?? before.environment,
      group: parsed.group ?? before.group,
      region: parsed.region ?? before.region,
      owner: parsed.owner ?? before.owner,
      criticality: parsed.criticality ?? before.criticality,
      labels,
    };
    const changes = diffFields(before, after);
    if (Object.keys(changes).length === 0) return before;
    const now = ctx.now();
    await trx
      .updateTable("assets")
      .set({
        kind: after.kind,
        environment: after.environment,
        group_name: after.group,
        region: after.region,
        owner: after.owner,
        criticality: after.criticality,
        labels: JSON.stringify(after.labels),
        updated_at: now.toISOString(),
      })
      .where("id", "=", row.id)
      .execute();
    await appendAudit(
      trx,
      {
        actor: actorLabel(actor),
        action: "asset.updated",
        targetType: "asset",
        targetId: row.id,
        data: { name, changes },
      },
      now,
    );
    return after;
  });
}

function diffFields(before: Asset, after: Asset): Record<string, { from: unknown; to: unknown }> {
  const changes: Record<string, { from: unknown; to: unknown }> = {};
  for (const key of ["kind", "environment", "group", "region", "owner", "criticality", "labels"] as const) {
    if (JSON.stringify(before[key]) !== JSON.stringify(after[key]))
      changes[key] = { from: before[key], to: after[key] };
  }
  return changes;
}

export async function deleteAsset(ctx: ServiceContext, actor: Actor, name: string): Promise<void> {
  await ctx.store.write(async (trx) => {
    const row = await requireAssetRow(trx, name);
    // The inverted index and its log have no foreign key (it would cost every report a look-up per
    // row): the asset's pairs go with it here, found through its own set.
    const set = await readPackageSet(trx, row.id);
    if (set !== null) await deleteSetPairs(trx, set.num, set.ids);
    await trx.deleteFrom("assets").where("id", "=", row.id).execute();
    await appendAudit(
      trx,
      {
        actor: actorLabel(actor),
        action: "asset.deleted",
        targetType: "asset",
        targetId: row.id,
        data: { name },
      },
      ctx.now(),
    );
  });
}
