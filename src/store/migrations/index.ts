import type { Migration } from "kysely";
import * as m0001 from "./0001-initial.js";
import * as m0002 from "./0002-advisories.js";

/** Every migration, in order. Names never change once released. */
export const MIGRATIONS: Record<string, Migration> = {
  "0001-initial": m0001,
  "0002-advisories": m0002,
};
