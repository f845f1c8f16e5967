/**
 * Drafting change requests from open findings: one change per package and the fixed version needed,
 * targeting exactly the assets that need it (`name in (a,b,…)`) and naming the vulnerabilities it
 * closes. On one asset the version needed for a package is the highest fixed version among its open
 * findings of the class, so an asset never gets two changes for the same package.
 */
import type { Kysely, Selectable } from "kysely";
import { isAppError, ValidationError } from "../domain/errors.js";
import type { Actor } from "../domain/roles.js";
import { schemeForEcosystem } from "../ecosystems/registry.js";
import { CHANGE_CLASSES, type ChangeClass } from "../policy/schema.js";
import type { ServiceContext } from "../service/context.js";
import type { Database, FindingsTable } from "../store/schema.js";
import { type ParsedChangeInput, parseChangeInput } from "./change-input.js";
import { insertChange, pinnablePolicy, policyForChange } from "./service.js";
import { parseTargetSelector, requireTargets } from "./targets.js";

export interface FromFindingsInput {
  class: string;
  selector: string;
  /** Policy NAME or NAME@VERSION; `default` when absent. */
  policy?: string | undefined;
}

export interface DraftedChange {
  id: string;
  package: string;
  version: string;
  assets: string[];
  advisories: string[];
}

export interface FromFindingsResult {
  created: DraftedChange[];
  /** What was not drafted, and why. */
  skipped: Array<{ package: string; version: string | null; assets: string[]; reason: string }>;
}

/** Versions in the ecosystem's order; plain text order for an ecosystem or version no scheme reads. */
export function compareFixedVersions(ecosystem: string, a: string, b: string): number {
  try {
    return schemeForEcosystem(ecosystem).compare(a, b);
  } catch {
    return a < b ? -1 : a > b ? 1 : 0;
  }
}

interface Need {
  ecosystem: string;
  pkg: string;
  version: string;
  assets: Set<string>;
  vulns: Set<string>;
}

type FindingRow = Pick<
  Selectable<FindingsTable>,
  "asset_id" | "ecosystem" | "package_name" | "fixed_version" | "vuln_id"
>;

/** Groups findings into (package, version needed) with their assets and vulnerabilities. Pure. */
export function groupFindings(
  findings: readonly FindingRow[],
  assetName: (id: string) => string,
): { needs: Need[]; unfixable: Map<string, Set<string>> } {
  const perAssetPackage = new Map<string, FindingRow[]>();
  for (const f of findings) {
    const key = JSON.stringify([f.asset_id, f.ecosystem, f.package_name]);
    perAssetPackage.set(key, [...(perAssetPackage.get(key) ?? []), f]);
  }
  const needs = new Map<string, Need>();
  const unfixable = new Map<string, Set<string>>();
  for (const rows of perAssetPackage.values()) {
    const first = rows[0];
    if (first === undefined) continue;
    const fixed = rows.map((r) => r.fixed_version).filter((v): v is string => v !== null && v !== "");
    if (fixed.length === 0) {
      const names = unfixable.get(first.package_name) ?? new Set<string>();
      names.add(assetName(first.asset_id));
      unfixable.set(first.package_name, names);
      continue;
    }
    const version = fixed.reduce((a, b) => (compareFixedVersions(first.ecosystem, a, b) >= 0 ? a : b));
    const key = JSON.stringify([first.package_name, version]);
    const need = needs.get(key) ?? {
      ecosystem: first.ecosystem,
      pkg: first.package_name,
      version,
      assets: new Set(),
      vulns: new Set(),
    };
    need.assets.add(assetName(first.asset_id));
    // Every open finding of this package on the asset is fixed at or below the version needed.
    for (const r of rows) if (r.fixed_version !== null && r.fixed_version !== "") need.vulns.add(r.vuln_id);
    needs.set(key, need);
  }
  const sorted = [...needs.values()].sort((a, b) =>
    a.pkg === b.pkg ? (a.version < b.version ? -1 : 1) : a.pkg < b.pkg ? -1 : 1,
  );
  return { needs: sorted, unfixable };
}

async function openFindings(
  db: Kysely<Database>,
  cls: ChangeClass,
  assetIds: string[],
): Promise<FindingRow[]> {
  const out: FindingRow[] = [];
  for (let i = 0; i < assetIds.length; i += 500) {
    out.push(
      ...(await db
        .selectFrom("findings")
        .select(["asset_id", "ecosystem", "package_name", "fixed_version", "vuln_id"])
        .where("status", "=", "open")
        .where("class", "=", cls)
        .where("asset_id", "in", assetIds.slice(i, i + 500))
        .orderBy("id")
        .execute()),
    );
  }
  return out;
}

const ACTIVE = ["draft", "submitted", "approved", "scheduled", "running"] as const;

function justification(cls: ChangeClass, vulns: readonly string[], assets: number): string {
  const shown = vulns.slice(0, 10).join(", ");
  const more = vulns.length > 10 ? ` and ${vulns.length - 10} more` : "";
  return `Closes ${vulns.length} open ${cls} finding${vulns.length === 1 ? "" : "s"} (${shown}${more}) on ${assets} asset${assets === 1 ? "" : "s"}.`;
}

/**
 * Drafts the changes, all in one transaction, each audited. A (package, version, assets) that an open
 * change (draft to running) covers already is skipped, so running it twice drafts nothing new.
 */
export async function draftFromFindings(
  ctx: ServiceContext,
  actor: Actor,
  input: FromFindingsInput,
): Promise<FromFindingsResult> {
  const cls = input.class;
  if (!(CHANGE_CLASSES as readonly string[]).includes(cls)) {
    throw new ValidationError(`"${cls}" is not a class (use ${CHANGE_CLASSES.join(", ")})`, {
      where: "/class",
    });
  }
  const changeClass = cls as ChangeClass;
  parseTargetSelector(input.selector);
  const ref = await policyForChange(ctx, input.policy);
  return ctx.store.write(async (trx) => {
    const now = ctx.now();
    const policy = await pinnablePolicy(trx, actor, ref);
    const assets = await requireTargets(trx, input.selector);
    const names = new Map(assets.map((a) => [a.id, a.name]));
    const findings = await openFindings(trx, changeClass, [...names.keys()]);
    const { needs, unfixable } = groupFindings(findings, (id) => names.get(id) ?? id);
    const result: FromFindingsResult = { created: [], skipped: [] };
    for (const [pkg, assetNames] of unfixable) {
      result.skipped.push({
        package: pkg,
        version: null,
        assets: [...assetNames].sort(),
        reason: "no fixed version is known",
      });
    }
    for (const need of needs) {
      const targets = [...need.assets].sort();
      const selector = `name in (${targets.join(",")})`;
      const existing = await trx
        .selectFrom("change_requests")
        .select("id")
        .where("package_name", "=", need.pkg)
        .where("package_version", "=", need.version)
        .where("selector", "=", selector)
        .where("state", "in", [...ACTIVE])
        .executeTakeFirst();
      if (existing) {
        result.skipped.push({
          package: need.pkg,
          version: need.version,
          assets: targets,
          reason: `change ${existing.id} covers it already`,
        });
        continue;
      }
      const advisories = [...need.vulns].sort();
      let parsed: ParsedChangeInput;
      try {
        parsed = parseChangeInput({
          ecosystem: need.ecosystem,
          package: need.pkg,
          version: need.version,
          selector,
          advisories,
          justification: justification(changeClass, advisories, targets.length),
          class: changeClass,
          emergency: changeClass === "emergency",
        });
      } catch (err) {
        // An advisory's fixed version (or an installed name) the package manager would not take: skip
        // that one need rather than the whole draft.
        if (!isAppError(err) || err.code !== "validation") throw err;
        result.skipped.push({
          package: need.pkg,
          version: need.version,
          assets: targets,
          reason: err.describe(),
        });
        continue;
      }
      const row = await insertChange(trx, actor, parsed, policy, now);
      result.created.push({
        id: row.id,
        package: need.pkg,
        version: need.version,
        assets: targets,
        advisories,
      });
    }
    return result;
  });
}
