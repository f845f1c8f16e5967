/** The assets a change's selector names, read inside the caller's transaction. */
import type { Kysely } from "kysely";
import { ValidationError } from "../domain/errors.js";
import type { Asset } from "../domain/inventory.js";
import { matchesSelector, parseSelector, type Selector, selectorView } from "../domain/selector.js";
import { rowToAsset } from "../inventory/assets.js";
import type { Database } from "../store/schema.js";

/** Parses a change's selector; a bad one is reported at `/selector` with the offset in the message. */
export function parseTargetSelector(text: string): Selector {
  try {
    return parseSelector(text);
  } catch (err) {
    if (err instanceof ValidationError) {
      throw new ValidationError(`selector (${err.where ?? "offset 0"}): ${err.message}`, {
        where: "/selector",
        cause: err,
        ...(err.details === undefined ? {} : { details: err.details }),
      });
    }
    throw err;
  }
}

// listAssets reads outside any transaction; inside one (SQLite has a single connection) that would wait
// on itself, so the targets are read through the transaction here.
async function resolveTargets(db: Kysely<Database>, selectorText: string): Promise<Asset[]> {
  const selector = parseTargetSelector(selectorText);
  const rows = await db.selectFrom("assets").selectAll().orderBy("name").execute();
  return rows.map(rowToAsset).filter((a) => matchesSelector(selector, selectorView(a)));
}

/** The targets; ValidationError at `/selector` when the selector matches no asset. */
export async function requireTargets(db: Kysely<Database>, selectorText: string): Promise<Asset[]> {
  const assets = await resolveTargets(db, selectorText);
  if (assets.length === 0) {
    throw new ValidationError(`no asset matches the selector ${JSON.stringify(selectorText)}`, {
      where: "/selector",
    });
  }
  return assets;
}
