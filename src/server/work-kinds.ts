import { MATCHER_WORK_KINDS } from "../advisories/ingest/matcher-hooks.js";
import { WorkRegistry } from "../work/registry.js";

/** Every kind of owed work the server's work loop does. */
export function serverWorkRegistry(): WorkRegistry {
  return new WorkRegistry(MATCHER_WORK_KINDS);
}
