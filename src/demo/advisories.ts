import type { OsvRecord } from "../advisories/osv/schema.js";

/**
 * The advisories the demo imports. One is real: DSA-5724-1 (CVE-2024-6387, "regreSSHion"), as the
 * Debian security tracker publishes it for bookworm. The others are generated for the demo — their
 * ids say so (AUTOPATCH-DEMO-…) and they name no real CVE — so that the demo fleet's older package
 * versions have something to be patched against, with fixed versions that the demo's catalog holds.
 */
export function demoAdvisories(now: Date): OsvRecord[] {
  const modified = now.toISOString();
  const debian = (name: string, fixed: string) => ({
    package: { ecosystem: "Debian:12", name },
    ranges: [{ type: "ECOSYSTEM" as const, events: [{ introduced: "0" }, { fixed }] }],
  });
  return [
    {
      id: "DSA-5724-1",
      modified,
      published: "2024-07-01T00:00:00Z",
      // Debian names the CVEs a DSA fixes in `upstream`, as its OSV feed does.
      upstream: ["CVE-2024-6387"],
      summary: "openssh: remote code execution in sshd's SIGALRM handler (regreSSHion)",
      severity: [{ type: "CVSS_V3", score: "CVSS:3.1/AV:N/AC:H/PR:N/UI:N/S:U/C:H/I:H/A:H" }],
      affected: [debian("openssh", "1:9.2p1-2+deb12u3")],
    },
    {
      id: "AUTOPATCH-DEMO-2026-0001",
      modified,
      summary: "curl: generated demo advisory (not a real vulnerability)",
      severity: [{ type: "CVSS_V3", score: "CVSS:3.1/AV:N/AC:L/PR:N/UI:R/S:U/C:H/I:N/A:N" }],
      affected: [debian("curl", "7.88.1-10+deb12u14")],
    },
    {
      id: "AUTOPATCH-DEMO-2026-0002",
      modified,
      summary: "sudo: generated demo advisory (not a real vulnerability)",
      severity: [{ type: "CVSS_V3", score: "CVSS:3.1/AV:L/AC:L/PR:L/UI:N/S:U/C:H/I:H/A:H" }],
      affected: [debian("sudo", "1.9.13p3-1+deb12u4")],
    },
    {
      id: "AUTOPATCH-DEMO-2026-0003",
      modified,
      summary: "openssl: generated demo advisory (not a real vulnerability)",
      severity: [{ type: "CVSS_V3", score: "CVSS:3.1/AV:N/AC:H/PR:N/UI:N/S:U/C:L/I:N/A:N" }],
      affected: [debian("openssl", "3.0.15-1~deb12u1")],
    },
  ] as OsvRecord[];
}
