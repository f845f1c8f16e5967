import { describe, expect, it } from "vitest";
import { compareFixedVersions, groupFindings } from "./from-findings.js";

const f = (asset: string, pkg: string, fixed: string | null, vuln: string, ecosystem = "Debian:12") => ({
  asset_id: asset,
  ecosystem,
  package_name: pkg,
  fixed_version: fixed,
  vuln_id: vuln,
});

describe("compareFixedVersions", () => {
  it.each([
    ["Debian:12", "3.0.13-1~deb12u1", "3.0.11-1~deb12u2", 1],
    ["Debian:12", "1.2.3~rc1-1", "1.2.3-1", -1],
    ["npm", "1.10.0", "1.9.0", 1],
    ["PyPI", "2.0.0rc1", "2.0.0", -1],
    // No scheme for the ecosystem: plain text order rather than failing the whole draft.
    ["Hex", "b", "a", 1],
  ] as const)("%s: %s vs %s", (ecosystem, a, b, order) => {
    expect(Math.sign(compareFixedVersions(ecosystem, a, b))).toBe(order);
  });
});

describe("groupFindings", () => {
  it("one need per package and the highest fixed version each asset needs", () => {
    const { needs, unfixable } = groupFindings(
      [
        f("a1", "openssl", "3.0.11-1~deb12u2", "CVE-2023-5678"),
        f("a1", "openssl", "3.0.13-1~deb12u1", "CVE-2024-0727"),
        f("a2", "openssl", "3.0.13-1~deb12u1", "CVE-2024-0727"),
        f("a3", "openssl", "3.0.11-1~deb12u2", "CVE-2023-5678"),
        f("a3", "zlib", null, "CVE-2023-45853"),
        f("a1", "curl", "7.88.1-10+deb12u5", "CVE-2023-38545"),
      ],
      (id) => id.replace("a", "host-"),
    );
    expect(needs.map((n) => [n.pkg, n.version, [...n.assets], [...n.vulns].sort()])).toEqual([
      ["curl", "7.88.1-10+deb12u5", ["host-1"], ["CVE-2023-38545"]],
      ["openssl", "3.0.11-1~deb12u2", ["host-3"], ["CVE-2023-5678"]],
      ["openssl", "3.0.13-1~deb12u1", ["host-1", "host-2"], ["CVE-2023-5678", "CVE-2024-0727"]],
    ]);
    expect([...unfixable].map(([pkg, assets]) => [pkg, [...assets]])).toEqual([["zlib", ["host-3"]]]);
  });
});

describe("groupFindings by source package", () => {
  it("one need per source and version, naming the binary like the source or on most assets", () => {
    const sources: Record<string, string> = {
      "openssh-client": "openssh",
      "openssh-server": "openssh",
      libssl3: "openssl",
    };
    const { needs } = groupFindings(
      [
        f("a1", "openssh-client", "1:9.2p1-2+deb12u3", "CVE-2099-1"),
        f("a1", "openssh-server", "1:9.2p1-2+deb12u3", "CVE-2099-1"),
        f("a2", "openssh-server", "1:9.2p1-2+deb12u3", "CVE-2099-1"),
        f("a1", "libssl3", "3.0.13-1~deb12u1", "CVE-2099-2"),
        f("a1", "openssl", "3.0.13-1~deb12u1", "CVE-2099-2"),
        f("a2", "libssl3", "3.0.11-1~deb12u2", "CVE-2099-3"),
      ],
      (id) => id,
      (_asset, name) => sources[name] ?? null,
    );
    expect(needs.map((n) => [n.source, n.pkg, n.packages, n.version, [...n.assets]])).toEqual([
      ["openssh", "openssh-server", ["openssh-client", "openssh-server"], "1:9.2p1-2+deb12u3", ["a1", "a2"]],
      ["openssl", "libssl3", ["libssl3"], "3.0.11-1~deb12u2", ["a2"]],
      ["openssl", "openssl", ["libssl3", "openssl"], "3.0.13-1~deb12u1", ["a1"]],
    ]);
  });
});
