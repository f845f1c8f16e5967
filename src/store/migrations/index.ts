import type { Migration } from "kysely";
import * as m0001 from "./0001-initial.js";
import * as m0002 from "./0002-advisories.js";
import * as m0003 from "./0003-changes.js";
import * as m0004 from "./0004-outbox.js";
import * as m0005 from "./0005-policy-governance.js";
import * as m0006 from "./0006-principals.js";
import * as m0007 from "./0007-enrollment.js";
import * as m0008 from "./0008-work-queue.js";
import * as m0009 from "./0009-schema-meta.js";
import * as m0011 from "./0011-rollouts.js";
import * as m0012 from "./0012-engine.js";
import * as m0014 from "./0014-scheduler.js";
import * as m0015 from "./0015-package-dictionary.js";
import * as m0016 from "./0016-findings.js";
import * as m0017 from "./0017-findings-policy.js";
import * as m0018 from "./0018-match-state.js";
import * as m0019 from "./0019-change-artifacts.js";
import * as m0020 from "./0020-findings-layout.js";
import * as m0021 from "./0021-package-log.js";
import * as m0022 from "./0022-credential-version.js";
import * as m0023 from "./0023-rollout-delta-indexes.js";

/**
 * A migration module. `breaking = true` marks one that code released before it cannot work with (a
 * dropped or renamed column, a changed meaning): older replicas then refuse the store. Default: additive.
 */
export interface MigrationModule extends Migration {
  readonly breaking?: boolean;
}

/** Every migration, in order. Names never change once released. */
export const MIGRATIONS: Record<string, MigrationModule> = {
  "0001-initial": m0001,
  "0002-advisories": m0002,
  "0003-changes": m0003,
  "0004-outbox": m0004,
  "0005-policy-governance": m0005,
  "0006-principals": m0006,
  "0007-enrollment": m0007,
  "0008-work-queue": m0008,
  "0009-schema-meta": m0009,
  "0011-rollouts": m0011,
  "0012-engine": m0012,
  "0014-scheduler": m0014,
  "0015-package-dictionary": m0015,
  "0016-findings": m0016,
  "0017-findings-policy": m0017,
  "0018-match-state": m0018,
  "0019-change-artifacts": m0019,
  "0020-findings-layout": m0020,
  "0021-package-log": m0021,
  "0022-credential-version": m0022,
  "0023-rollout-delta-indexes": m0023,
};
