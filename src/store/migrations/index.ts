import type { Migration } from "kysely";
import * as m0001 from "./0001-initial.js";
import * as m0002 from "./0002-advisories.js";
import * as m0003 from "./0003-changes.js";
import * as m0004 from "./0004-outbox.js";
import * as m0005 from "./0005-policy-governance.js";

/** Every migration, in order. Names never change once released. */
export const MIGRATIONS: Record<string, Migration> = {
  "0001-initial": m0001,
  "0002-advisories": m0002,
  "0003-changes": m0003,
  "0004-outbox": m0004,
  "0005-policy-governance": m0005,
};
