/**
 * Class moves: how many unresolved findings an import's or a re-match's work moved from one class to
 * another (routine → emergency after a KEV listing, high → routine after an EPSS drop). The classes
 * before are copied into a temporary table inside the work's own transaction and joined with the
 * findings after it, so the count is exact, costs no JavaScript per finding, and commits (with its
 * audit event) together with the work or not at all.
 */
import { CompiledQuery, type Kysely } from "kysely";
import { z } from "zod";
import { appendAudit } from "../../audit/log.js";
import { actorLabel, SYSTEM_ACTOR } from "../../domain/roles.js";
import type { ServiceContext } from "../../service/context.js";
import { TemporaryTable, type TemporaryTableSpec } from "../../store/raw-sql.js";
import type { Database } from "../../store/schema.js";

/** Findings moved from one class to another by an import or a re-match, counted. */
export const classMoveSchema = z.object({ from: z.string(), to: z.string(), count: z.number().int() });
export type ClassMove = z.infer<typeof classMoveSchema>;

const BEFORE: TemporaryTableSpec = {
  name: "class_moves_before",
  columns: [
    { name: "num", type: "integer" },
    { name: "class", type: "text" },
  ],
  key: ["num"],
};

const CLASS_ORDER = ["emergency", "high", "routine"];
const rank = (cls: string) => {
  const i = CLASS_ORDER.indexOf(cls);
  return i < 0 ? CLASS_ORDER.length : i;
};

/** Runs `work` in `trx` and returns the class moves it made among the findings unresolved before it. */
export async function trackClassMoves(
  trx: Kysely<Database>,
  work: () => Promise<void>,
): Promise<ClassMove[]> {
  const before = new TemporaryTable(trx, BEFORE);
  const run = (text: string) => trx.executeQuery<Record<string, unknown>>(CompiledQuery.raw(text, []));
  await before.create();
  // By row number and fact, from the tables behind the view: no computed id, no join per finding.
  await run(
    `insert into ${before.ref} (num, class) select r.num, k.class from finding_rows r ` +
      "join finding_facts k on k.num = r.fact where r.status <> 'fixed'",
  );
  await work();
  const { rows } = await run(
    `select b.class as from_class, k.class as to_class, count(*) as n from ${before.ref} b ` +
      "join finding_rows r on r.num = b.num join finding_facts k on k.num = r.fact " +
      "where r.status <> 'fixed' and k.class <> b.class group by b.class, k.class",
  );
  await before.drop();
  return sortMoves(
    rows.map((r) => ({ from: String(r.from_class), to: String(r.to_class), count: Number(r.n) })),
  );
}

/** Most urgent source class first, then most urgent destination. */
export function sortMoves(moves: readonly ClassMove[]): ClassMove[] {
  return [...moves].sort((a, b) => rank(a.from) - rank(b.from) || rank(a.to) - rank(b.to));
}

/** Adds up moves of several runs by (from, to). */
export function mergeMoves(runs: ReadonlyArray<readonly ClassMove[]>): ClassMove[] {
  const sums = new Map<string, ClassMove>();
  for (const moves of runs) {
    for (const m of moves) {
      const key = `${m.from}\u0000${m.to}`;
      const seen = sums.get(key);
      if (seen) seen.count += m.count;
      else sums.set(key, { ...m });
    }
  }
  return sortMoves([...sums.values()]);
}

/** One audit event for the moves of a run, when there are any. */
export async function auditClassMoves(
  trx: Kysely<Database>,
  now: Date,
  trigger: string,
  moves: readonly ClassMove[],
): Promise<void> {
  if (moves.length === 0) return;
  await appendAudit(
    trx,
    {
      actor: actorLabel(SYSTEM_ACTOR),
      action: "findings.class_moved",
      targetType: "findings",
      targetId: "classes",
      data: { trigger, moved: moves.reduce((n, m) => n + m.count, 0), moves },
    },
    now,
  );
}

/** Human text: "2 routine → emergency, 1 high → routine"; "" when nothing moved. */
export function movesText(moves: readonly ClassMove[] | undefined): string {
  return (moves ?? []).map((m) => `${m.count} ${m.from} → ${m.to}`).join(", ");
}

// The moves made by the work an import settles, collected per call: settleMatcherWork runs the work
// under a context of its own, and the work kinds add to that context's list.
const collected = new WeakMap<ServiceContext, ClassMove[][]>();

/** A copy of `ctx` whose work records its class moves in `moves()`. */
export function collectingClassMoves(ctx: ServiceContext): { ctx: ServiceContext; moves(): ClassMove[] } {
  const scoped: ServiceContext = { ...ctx };
  const runs: ClassMove[][] = [];
  collected.set(scoped, runs);
  return { ctx: scoped, moves: () => mergeMoves(runs) };
}

/** Records moves for the caller that collects them (if any) under this context. */
export function reportClassMoves(ctx: ServiceContext, moves: ClassMove[]): void {
  if (moves.length > 0) collected.get(ctx)?.push(moves);
}
