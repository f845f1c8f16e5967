import type { OsvRecord } from "../advisories/osv/schema.js";
import { FLEET_PACKAGE, FLEET_VERSIONS } from "../testfleet/packages.js";

/**
 * The advisory the demo imports: generated for the demo (its id says so and it names no real CVE),
 * against the test fleet's own package, fixed in the fleet's good version, so that the findings call
 * for the patch the demo then rolls out.
 */
export function demoAdvisories(now: Date): OsvRecord[] {
  return [
    {
      id: "AUTOPATCH-DEMO-2026-0001",
      modified: now.toISOString(),
      summary: `${FLEET_PACKAGE}: generated demo advisory (not a real vulnerability)`,
      severity: [{ type: "CVSS_V3", score: "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:N" }],
      affected: [
        {
          package: { ecosystem: "Debian:12", name: FLEET_PACKAGE },
          ranges: [{ type: "ECOSYSTEM", events: [{ introduced: "0" }, { fixed: FLEET_VERSIONS.good }] }],
        },
      ],
    },
  ] as OsvRecord[];
}
