import type { ApiClient } from "../client/api-client.js";

/**
 * Every item of a list route. The one place the CLI reads lists through, so that following the
 * API's pages is done here once.
 */
export async function listAll<T>(client: ApiClient, path: string): Promise<T[]> {
  return client.get<T[]>(path);
}
