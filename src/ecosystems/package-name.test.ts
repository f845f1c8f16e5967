import { describe, expect, it } from "vitest";
import { packageNameProblem } from "./package-name.js";
import { OSV_ECOSYSTEMS } from "./registry.js";

describe("packageNameProblem", () => {
  it.each([
    ["Debian:12", "libstdc++6"],
    ["Debian", "openssl"],
    ["Ubuntu:22.04:LTS", "linux-image-6.8.0-45-generic"],
    ["AlmaLinux:9", "python3.11-pip"],
    ["Red Hat", "NetworkManager"],
    ["npm", "@types/node"],
    ["npm", "left-pad"],
    ["npm", "JSONStream"],
    ["crates.io", "serde_json"],
    ["PyPI", "Django"],
    ["PyPI", "zope.interface"],
    ["Maven", "org.apache.logging.log4j:log4j-core"],
    ["Go", "golang.org/x/net"],
    ["Go", "github.com/gin-gonic/gin"],
  ])("%s accepts %s", (ecosystem, name) => {
    expect(packageNameProblem(ecosystem, name)).toBeNull();
  });

  it.each([
    ["Debian", "a"],
    ["Debian", "OpenSSL"],
    ["Debian", "-openssl"],
    ["Debian", "openssl;reboot"],
    ["Debian", "openssl\u0000"],
    ["Debian", "libssl3,curl"],
    ["Debian", "open ssl"],
    ["Red Hat", "-kernel"],
    ["npm", ".hidden"],
    ["npm", "left pad"],
    ["npm", "x".repeat(215)],
    ["crates.io", "1serde"],
    ["PyPI", "-django"],
    ["Maven", "log4j-core"],
    ["Go", "/etc/passwd"],
    ["Go", "example.com/$(id)"],
  ])("%s refuses %j", (ecosystem, name) => {
    expect(packageNameProblem(ecosystem, name)).toEqual(expect.any(String));
  });

  it("has a rule for every OSV ecosystem with a version scheme", () => {
    for (const { name } of OSV_ECOSYSTEMS) expect(packageNameProblem(name, "\u0000")).not.toBeNull();
  });

  it("refuses an ecosystem it does not know", () => {
    expect(() => packageNameProblem("Hex", "phoenix")).toThrow(
      expect.objectContaining({ code: "unsupported" }),
    );
  });
});
