/**
 * What a full re-match matched each package set against, and which sets must be matched again.
 *
 * A set's findings follow from its packages (the set's digest), its asset's risk inputs and SLAs, the
 * advisories, KEV and EPSS data and the findings policy, plus the clock for acceptances and statements
 * that expire. The data versions are counters the store's triggers bump on every write
 * (migration 0018), so comparing them costs a few rows, not a scan. A set whose inputs all equal the
 * recorded ones would get exactly its stored findings again: the run skips it. Package rows never
 * change once written (see the dictionary), so the digest covers the set's content and the dictionary's
 * highest id adds nothing a set's digest does not already say.
 */
import { createHash } from "node:crypto";
import type { Kysely } from "kysely";
import { DEFAULT_POLICY } from "../../policy/default-policy.js";
import type { Database } from "../../store/schema.js";
import type { AssetContext } from "./asset-context.js";
import { governingVersion } from "./findings-policy.js";

/**
 * Bumped when the matcher, the risk formula or the finding lifecycle changes what a set yields: a
 * store matched by older code is then matched again in full.
 */
const MATCH_LOGIC = 1;

let builtinHash: string | undefined;

/** The key of everything but the sets that findings depend on: data versions and the policy. */
export async function matchInputsKey(db: Kysely<Database>): Promise<string> {
  const versions = await db.selectFrom("match_inputs").select(["name", "version"]).orderBy("name").execute();
  const governing = await governingVersion(db);
  builtinHash ??= createHash("sha256").update(JSON.stringify(DEFAULT_POLICY)).digest("hex").slice(0, 16);
  const policy =
    governing === null
      ? `builtin#${builtinHash}`
      : `${governing.name}@${governing.version}#${governing.hash}`;
  return [
    `logic ${MATCH_LOGIC}`,
    ...versions.map((v) => `${v.name} ${String(v.version)}`),
    `policy ${policy}`,
  ].join(";");
}

/** The asset's part of a set's inputs: what its findings' risk and due dates read of it. */
export const contextKey = (a: AssetContext): string =>
  `${a.riskKind}|${a.sla.emergency}|${a.sla.high}|${a.sla.routine}`;

export interface SetToMatch {
  num: number;
  asset_id: string;
}

export interface MatchPlan {
  /** The sets to match, in set order. */
  stale: SetToMatch[];
  /** Sets skipped, and the findings they yielded when last matched (the run's `unchanged`). */
  skipped: { sets: number; findings: number };
}

/** The sets whose inputs moved since they were last matched, or that have a finding expiring by `now`. */
export async function planMatch(
  db: Kysely<Database>,
  inputs: string,
  contexts: ReadonlyMap<string, AssetContext>,
  now: Date,
): Promise<MatchPlan> {
  const rows = await db
    .selectFrom("package_sets as ps")
    .leftJoin("match_state as ms", "ms.set_num", "ps.num")
    .select([
      "ps.num",
      "ps.asset_id",
      "ps.digest",
      "ms.inputs",
      "ms.digest as matched_digest",
      "ms.context",
      "ms.findings",
    ])
    .orderBy("ps.num")
    .execute();
  const expiring = new Set(
    (
      await db
        .selectFrom("findings")
        .select("asset_id")
        .distinct()
        .where("status_expires_at", "is not", null)
        .where("status_expires_at", "<=", now.toISOString())
        .where("status", "in", ["accepted-risk", "not-affected"])
        .execute()
    ).map((r) => r.asset_id),
  );
  const stale: SetToMatch[] = [];
  const skipped = { sets: 0, findings: 0 };
  for (const r of rows) {
    const asset = contexts.get(r.asset_id);
    const same =
      r.inputs === inputs &&
      r.matched_digest === r.digest &&
      asset !== undefined &&
      r.context === contextKey(asset) &&
      !expiring.has(r.asset_id);
    if (same) {
      skipped.sets += 1;
      skipped.findings += Number(r.findings ?? 0);
    } else stale.push({ num: Number(r.num), asset_id: r.asset_id });
  }
  return { stale, skipped };
}

/** Records what the sets were matched against, in the transaction that wrote their findings. */
export async function recordMatched(
  trx: Kysely<Database>,
  inputs: string,
  sets: ReadonlyArray<{ num: number; digest: string; context: string; findings: number }>,
  now: Date,
): Promise<void> {
  const at = now.toISOString();
  // Six values a row: 1,000 rows stay under SQLite's 32,766 parameters.
  for (let i = 0; i < sets.length; i += 1000) {
    const rows = sets.slice(i, i + 1000).map((s) => ({
      set_num: s.num,
      inputs,
      digest: s.digest,
      context: s.context,
      findings: s.findings,
      matched_at: at,
    }));
    if (rows.length === 0) continue;
    await trx
      .insertInto("match_state")
      .values(rows)
      .onConflict((oc) =>
        oc.column("set_num").doUpdateSet((eb) => ({
          inputs: eb.ref("excluded.inputs"),
          digest: eb.ref("excluded.digest"),
          context: eb.ref("excluded.context"),
          findings: eb.ref("excluded.findings"),
          matched_at: eb.ref("excluded.matched_at"),
        })),
      )
      .execute();
  }
}

/** Drops the records of sets that are gone (an asset deleted, or its set replaced by a new one). */
export async function pruneMatchState(trx: Kysely<Database>): Promise<void> {
  await trx
    .deleteFrom("match_state")
    .where((eb) =>
      eb.not(
        eb.exists(
          eb.selectFrom("package_sets as ps").select("ps.num").whereRef("ps.num", "=", "match_state.set_num"),
        ),
      ),
    )
    .execute();
}
