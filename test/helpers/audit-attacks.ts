import { type Kysely, sql } from "kysely";
import { hashEvent } from "../../src/audit/event.js";
import { rowToEvent } from "../../src/audit/log.js";
import { GENESIS_HASH } from "../../src/store/migrations/0001-initial.js";
import type { Database } from "../../src/store/schema.js";

// Attacks by someone who can write the store and knows how the chain is hashed: every hash and the head
// row are recomputed, so the chain is consistent in itself afterwards.

/** Recomputes every hash from event `from` on and points the head at the last event. */
export async function rehashFrom(db: Kysely<Database>, from: number): Promise<void> {
  const rows = await db.selectFrom("audit_events").selectAll().orderBy("seq").execute();
  let prevHash = GENESIS_HASH;
  let head = { seq: 0, hash: GENESIS_HASH };
  for (const row of rows) {
    const event = rowToEvent(row);
    if (event.seq >= from) {
      const unhashed = { ...event, prevHash };
      const { hash: _old, ...rest } = unhashed;
      const hash = hashEvent(rest);
      await sql`update audit_events set prev_hash = ${prevHash}, hash = ${hash} where seq = ${event.seq}`.execute(
        db,
      );
      prevHash = hash;
    } else {
      prevHash = event.hash;
    }
    head = { seq: event.seq, hash: prevHash };
  }
  await sql`update audit_head set seq = ${head.seq}, hash = ${head.hash} where id = 1`.execute(db);
}

/** Cuts the newest events off, from `from` on, and moves the head back. */
export async function truncateFrom(db: Kysely<Database>, from: number): Promise<void> {
  await sql`delete from audit_events where seq >= ${from}`.execute(db);
  await rehashFrom(db, from);
}

/** Rewrites the actor of events `from` on, then re-hashes them. */
export async function rewriteFrom(db: Kysely<Database>, from: number, actor: string): Promise<void> {
  await sql`update audit_events set actor = ${actor} where seq >= ${from}`.execute(db);
  await rehashFrom(db, from);
}

/** Deletes one event, renumbers the later ones to close the gap, and re-hashes them. */
export async function deleteAndRenumber(db: Kysely<Database>, seq: number): Promise<void> {
  await sql`delete from audit_events where seq = ${seq}`.execute(db);
  const later = await db
    .selectFrom("audit_events")
    .select("seq")
    .where("seq", ">", seq)
    .orderBy("seq")
    .execute();
  for (const row of later) {
    await sql`update audit_events set seq = ${Number(row.seq) - 1} where seq = ${row.seq}`.execute(db);
  }
  await rehashFrom(db, seq);
}
