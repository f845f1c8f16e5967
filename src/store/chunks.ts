/**
 * Values per `IN (…)` list or rows per multi-row INSERT built from input: SQLite binds at most 32,766
 * parameters per statement and PostgreSQL 65,535, while one request may name 200,000 packages.
 */
export const VALUES_PER_STATEMENT = 500;

/** The items in slices of at most `size`: one statement each. */
export function inChunks<T>(items: readonly T[], size = VALUES_PER_STATEMENT): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

/** Runs one read per chunk, one after another, and concatenates the rows in chunk order. */
export async function rowsInChunks<T, R>(
  items: readonly T[],
  read: (chunk: T[]) => Promise<R[]>,
  size = VALUES_PER_STATEMENT,
): Promise<R[]> {
  const out: R[] = [];
  for (const chunk of inChunks(items, size)) out.push(...(await read(chunk)));
  return out;
}
