/**
 * The one shape of every list route: `{items, next}`, `limit` (default 100, at most 1000) and an opaque
 * `cursor`, the base64url of the last item's sort key. A client passes `next` back as `cursor` and
 * stops when it is null.
 */
import { z } from "zod";
import { reasonError } from "../../domain/errors.js";

export const DEFAULT_PAGE_LIMIT = 100;
export const MAX_PAGE_LIMIT = 1000;

/** One component of a sort key: what a cursor carries. */
export type SortKeyPart = string | number;
export type SortKey = readonly SortKeyPart[];

/** The query fields every list route takes, spread into its querystring schema. */
export const pageQueryFields = {
  limit: z.coerce
    .number()
    .int()
    .min(1)
    .max(MAX_PAGE_LIMIT)
    .default(DEFAULT_PAGE_LIMIT)
    .describe(`items per page (default ${DEFAULT_PAGE_LIMIT}, at most ${MAX_PAGE_LIMIT})`),
  cursor: z.string().min(1).max(2000).optional().describe("the `next` of the previous page"),
};

export interface PageQuery {
  limit: number;
  cursor?: string | undefined;
}

export interface Page<T> {
  items: T[];
  next: string | null;
}

/** The response schema of a list route whose items have the given schema. */
export function pageSchema<T extends z.ZodType>(item: T) {
  return z.object({
    items: z.array(item),
    next: z.string().nullable().describe("pass as `cursor` for the next page; null on the last one"),
  });
}

export function encodeCursor(key: SortKey): string {
  return Buffer.from(JSON.stringify(key), "utf8").toString("base64url");
}

const sortKeySchema = z.array(z.union([z.string(), z.number()])).min(1);

/** The sort key a cursor carries; a cursor this server did not hand out is a 400 at `/query/cursor`. */
export function decodeCursor(cursor: string, length?: number): SortKey {
  const refused = decodeCursorError;
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(cursor, "base64url").toString("utf8"));
  } catch {
    throw refused();
  }
  const key = sortKeySchema.safeParse(parsed);
  if (!key.success || (length !== undefined && key.data.length !== length)) throw refused();
  return key.data;
}

/** The one part of a cursor whose key is a single string (an id) or number (a sequence). */
export function decodeSingleCursor(cursor: string, kind: "string"): string;
export function decodeSingleCursor(cursor: string, kind: "number"): number;
export function decodeSingleCursor(cursor: string, kind: "string" | "number"): SortKeyPart {
  const part = decodeCursor(cursor, 1)[0];
  if (typeof part !== kind) throw decodeCursorError();
  return part as SortKeyPart;
}

function decodeCursorError() {
  return reasonError(
    "request.invalid-cursor",
    "not a cursor this server handed out: pass the `next` of the previous page",
    { where: "/query/cursor" },
  );
}

function compareKeys(a: SortKey, b: SortKey): number {
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    const x = a[i];
    const y = b[i];
    if (x === y) continue;
    if (x === undefined) return -1;
    if (y === undefined) return 1;
    if (typeof x === "number" && typeof y === "number") return x - y;
    return String(x) < String(y) ? -1 : 1;
  }
  return 0;
}

export interface ListOrder<T> {
  /** The item's sort key; its last part must be unique (an id or a name) so pages never overlap. */
  key: (item: T) => SortKey;
  /** Per key part: true sorts that part newest (largest) first. */
  descending?: readonly boolean[];
}

/**
 * Pages a list the service returns whole (lists of tens to thousands of rows: policies, tokens,
 * changes). The cursor is a key, not a position, so rows added or removed between pages shift nothing.
 */
export function pageOf<T>(all: readonly T[], order: ListOrder<T>, query: PageQuery): Page<T> {
  const direction = (i: number) => (order.descending?.[i] ? -1 : 1);
  const compare = (a: SortKey, b: SortKey) => {
    for (let i = 0; i < Math.max(a.length, b.length); i++) {
      const c = compareKeys([a[i] ?? ""], [b[i] ?? ""]);
      if (c !== 0) return c * direction(i);
    }
    return 0;
  };
  const keyed = all.map((item) => ({ item, key: order.key(item) }));
  keyed.sort((a, b) => compare(a.key, b.key));
  const after = query.cursor === undefined ? null : decodeCursor(query.cursor, keyed[0]?.key.length);
  const rest = after === null ? keyed : keyed.filter((k) => compare(k.key, after) > 0);
  const page = rest.slice(0, query.limit);
  const last = page.at(-1);
  return {
    items: page.map((k) => k.item),
    next: rest.length > query.limit && last ? encodeCursor(last.key) : null,
  };
}
