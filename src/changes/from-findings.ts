/**
 * Drafting change requests from open findings: one change per source package and the fixed version
 * needed, targeting exactly the assets that need it (`name in (a,b,…)`) and naming the
 * vulnerabilities it closes. Debian fixes a source package, and all its binaries move together
 * (openssh-client and openssh-server, libssl3 and openssl), so their findings make one change that
 * lists the binaries it covers. On one asset the version needed for a source is the highest fixed
 * version among its open findings of the class, so an asset never gets two changes for one source.
 *
 * The change keeps a binary as its `package` (the one named like the source, else the one on most
 * assets): the planner, the executors and apt install binaries by name, and a source name such as
 * "openssh" is no installable package. The other binaries go in `alsoPackages`, and the plan targets
 * the assets with any of them below the version.
 */
import type { Kysely, Selectable } from "kysely";
import { isAppError, ValidationError } from "../domain/errors.js";
import type { Actor } from "../domain/roles.js";
import { schemeForEcosystem } from "../ecosystems/registry.js";
import { CHANGE_CLASSES, type ChangeClass } from "../policy/schema.js";
import type { ServiceContext } from "../service/context.js";
import type { Database, FindingsTable } from "../store/schema.js";
import { type ParsedChangeInput, parseChangeInput } from "./change-input.js";
import { sourcesOfBinaries } from "./installed.js";
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
  /** The binary the change names (see the file comment). */
  package: string;
  /** The source package whose fix it is (the package itself outside Debian and Ubuntu). */
  source: string;
  /** Every binary of the source the change covers, the named one included, sorted. */
  packages: string[];
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
  /** The source package (or the package itself when its rows name no source). */
  source: string;
  /** The binary the change names. */
  pkg: string;
  /** Every binary covered, sorted. */
  packages: string[];
  version: string;
  assets: Set<string>;
  vulns: Set<string>;
}

type FindingRow = Pick<
  Selectable<FindingsTable>,
  "asset_id" | "ecosystem" | "package_name" | "fixed_version" | "vuln_id"
>;

/** The source package of a binary on an asset; null when the installed row names none. */
export type SourceOf = (assetId: string, packageName: string) => string | null;

/** The binary a change names: the one named like its source, else the one on most assets, then by name. */
function mainBinary(source: string, assetsBy: ReadonlyMap<string, ReadonlySet<string>>): string {
  if (assetsBy.has(source)) return source;
  const ranked = [...assetsBy].sort(([a, x], [b, y]) => y.size - x.size || (a < b ? -1 : a > b ? 1 : 0));
  return ranked[0]?.[0] ?? source;
}

/** Groups findings into (source package, version needed) with their binaries, assets and vulnerabilities. Pure. */
export function groupFindings(
  findings: readonly FindingRow[],
  assetName: (id: string) => string,
  sourceOf: SourceOf = () => null,
): { needs: Need[]; unfixable: Map<string, Set<string>> } {
  const perAssetSource = new Map<string, { source: string; rows: FindingRow[] }>();
  for (const f of findings) {
    const source = sourceOf(f.asset_id, f.package_name) || f.package_name;
    const key = JSON.stringify([f.asset_id, f.ecosystem, source]);
    const group = perAssetSource.get(key) ?? { source, rows: [] };
    group.rows.push(f);
    perAssetSource.set(key, group);
  }
  const needs = new Map<string, Need & { binaries: Map<string, Set<string>> }>();
  const unfixable = new Map<string, Set<string>>();
  for (const { source, rows } of perAssetSource.values()) {
    const first = rows[0];
    if (first === undefined) continue;
    const asset = assetName(first.asset_id);
    const fixed = rows.map((r) => r.fixed_version).filter((v): v is string => v !== null && v !== "");
    if (fixed.length === 0) {
      const names = unfixable.get(source) ?? new Set<string>();
      names.add(asset);
      unfixable.set(source, names);
      continue;
    }
    const version = fixed.reduce((a, b) => (compareFixedVersions(first.ecosystem, a, b) >= 0 ? a : b));
    const key = JSON.stringify([first.ecosystem, source, version]);
    const need = needs.get(key) ?? {
      ecosystem: first.ecosystem,
      source,
      pkg: source,
      packages: [],
      version,
      assets: new Set(),
      vulns: new Set(),
      binaries: new Map<string, Set<string>>(),
    };
    need.assets.add(asset);
    for (const r of rows) {
      const on = need.binaries.get(r.package_name) ?? new Set<string>();
      on.add(asset);
      need.binaries.set(r.package_name, on);
      // Every open finding of this source on the asset is fixed at or below the version needed.
      if (r.fixed_version !== null && r.fixed_version !== "") need.vulns.add(r.vuln_id);
    }
    needs.set(key, need);
  }
  const sorted = [...needs.values()]
    .map(({ binaries, ...need }) => ({
      ...need,
      pkg: mainBinary(need.source, binaries),
      packages: [...binaries.keys()].sort(),
    }))
    .sort((a, b) =>
      a.source === b.source ? (a.version < b.version ? -1 : 1) : a.source < b.source ? -1 : 1,
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
    const sources = new Map<string, string | null>();
    for (const r of await sourcesOfBinaries(
      trx,
      [...new Set(findings.map((f) => f.asset_id))],
      [...new Set(findings.map((f) => f.package_name))],
    )) {
      sources.set(`${r.asset_id}\u0000${r.name}`, r.source_name);
    }
    const { needs, unfixable } = groupFindings(
      findings,
      (id) => names.get(id) ?? id,
      (assetId, name) => sources.get(`${assetId}\u0000${name}`) ?? null,
    );
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
      const also = need.packages.filter((p) => p !== need.pkg);
      let parsed: ParsedChangeInput;
      try {
        parsed = parseChangeInput({
          ecosystem: need.ecosystem,
          package: need.pkg,
          ...(also.length > 0 ? { alsoPackages: also } : {}),
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
        source: need.source,
        packages: need.packages,
        version: need.version,
        assets: targets,
        advisories,
      });
    }
    return result;
  });
}
