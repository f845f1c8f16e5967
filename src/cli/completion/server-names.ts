import { ApiClient } from "../../client/api-client.js";
import { resolveConnection } from "../config/connection.js";
import type { DynamicKind, NameSource } from "./candidates.js";

const ROUTES: Readonly<Record<DynamicKind, { path: string; field: "name" | "id" }>> = {
  assets: { path: "/api/v1/assets", field: "name" },
  changes: { path: "/api/v1/changes", field: "id" },
  rollouts: { path: "/api/v1/rollouts", field: "id" },
  incidents: { path: "/api/v1/incidents", field: "id" },
};

/**
 * Names from the server the command line (or the environment, or the context) points at. A shell
 * waits for completions, so the lookup gives up quickly and any failure is just no names.
 */
export function serverNames(timeoutMs = 2_000): NameSource {
  return async (kind, flags) => {
    try {
      const { server, token } = resolveConnection({
        ...(flags.server === undefined ? {} : { server: flags.server }),
        ...(flags.token === undefined ? {} : { token: flags.token }),
        ...(flags.context === undefined ? {} : { context: flags.context }),
      });
      if (!token) return [];
      const route = ROUTES[kind];
      const body = await new ApiClient(server, token, timeoutMs).get<unknown>(route.path);
      // Bare arrays and `{items: […]}` pages are both lists.
      const items: unknown[] = Array.isArray(body)
        ? body
        : Array.isArray((body as { items?: unknown } | null)?.items)
          ? (body as { items: unknown[] }).items
          : [];
      return items
        .map((item) => (item as Record<string, unknown> | null)?.[route.field])
        .filter((v): v is string => typeof v === "string");
    } catch {
      return [];
    }
  };
}
