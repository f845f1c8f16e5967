import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { auditLocations, defaultAuditLocations } from "./locations.js";

describe("where the audit key and checkpoint log live", () => {
  it("beside a SQLite file, named after it so that copying autopatch.db* leaves the key behind", () => {
    expect(defaultAuditLocations("sqlite:/var/lib/autopatch/autopatch.db", {})).toEqual({
      keyFile: "/var/lib/autopatch/autopatch.audit-key.pem",
      checkpointLog: "/var/lib/autopatch/autopatch.audit-checkpoints.jsonl",
    });
  });

  it.each(["postgres://u:p@db/autopatch", "sqlite::memory:"])("in the state directory for %s", (url) => {
    expect(defaultAuditLocations(url, { AUTOPATCH_STATE_DIR: "/srv/ap" })).toEqual({
      keyFile: "/srv/ap/audit-key.pem",
      checkpointLog: "/srv/ap/audit-checkpoints.jsonl",
    });
    expect(defaultAuditLocations(url, { XDG_STATE_HOME: "/home/x/.state" }).keyFile).toBe(
      join("/home/x/.state", "autopatch", "audit-key.pem"),
    );
  });

  it("takes a flag over the environment over the default", () => {
    const env = { AUTOPATCH_AUDIT_KEY: "/etc/ap/key.pem", AUTOPATCH_AUDIT_CHECKPOINT_LOG: "/log/cp.jsonl" };
    expect(auditLocations("sqlite:/d/a.db", {}, env)).toEqual({
      keyFile: "/etc/ap/key.pem",
      checkpointLog: "/log/cp.jsonl",
    });
    expect(auditLocations("sqlite:/d/a.db", { keyFile: "/k.pem" }, env).keyFile).toBe("/k.pem");
  });
});
