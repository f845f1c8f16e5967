/**
 * Every item of a list route, page after page: the one place a client follows `next`, so callers
 * (the CLI, the agent, the demo, the test fleet) see plain arrays. Paths, filters and item types come
 * from the generated API types, so a list route that changes shape breaks its callers at compile time.
 */
import type { ApiClient } from "./api-client.js";
import type { paths } from "./api-types.js";

/** Paths whose GET takes a `cursor`: the list routes. */
export type ListPath = {
  [P in keyof paths]: paths[P] extends { get: { parameters: { query?: { cursor?: string } } } } ? P : never;
}[keyof paths];

type ListOperation<P extends ListPath> = paths[P] extends { get: infer O } ? O : never;

type ListQueryOf<P extends ListPath> =
  ListOperation<P> extends { parameters: { query?: infer Q } }
    ? Omit<NonNullable<Q>, "limit" | "cursor">
    : never;

type ListPathParamsOf<P extends ListPath> =
  ListOperation<P> extends { parameters: { path: infer X } } ? { path: X } : { path?: never };

export type ListItem<P extends ListPath> =
  ListOperation<P> extends {
    responses: { 200: { content: { "application/json": { items: Array<infer I> } } } };
  }
    ? I
    : never;

export type ListOptions<P extends ListPath> = { query?: ListQueryOf<P> } & ListPathParamsOf<P>;

/** The largest page the API hands out: the fewest round trips. */
const PAGE_SIZE = 1000;

interface Page {
  items: unknown[];
  next: string | null;
}

export async function listAll<P extends ListPath>(
  client: ApiClient,
  path: P,
  ...[options]: ListPathParamsOf<P> extends { path: infer _ } ? [ListOptions<P>] : [ListOptions<P>?]
): Promise<Array<ListItem<P>>> {
  const items: unknown[] = [];
  // The generic path defeats openapi-fetch's per-path overloads; the signature above carries the types.
  const get = client.api.GET as unknown as (
    path: string,
    init: { params: { query: Record<string, unknown>; path?: unknown } },
  ) => Promise<{ data?: Page; error?: unknown; response: Response }>;
  let cursor: string | null = null;
  do {
    const query: Record<string, unknown> = { ...options?.query, limit: PAGE_SIZE };
    if (cursor !== null) query.cursor = cursor;
    const page: Page = client.data(
      await get(path, { params: { query, ...(options?.path === undefined ? {} : { path: options.path }) } }),
    );
    items.push(...page.items);
    cursor = page.next;
  } while (cursor !== null);
  return items as Array<ListItem<P>>;
}
