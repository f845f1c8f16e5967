import { describe, expect, it } from "vitest";
import { ecosystemParts, matchName, packageKey } from "./ecosystem-key.js";

describe("ecosystemParts", () => {
  it.each<[string, string, string, boolean]>([
    ["Debian:12", "Debian", "12", true],
    ["Debian", "Debian", "", true],
    ["debian:11", "Debian", "11", true],
    ["Ubuntu:22.04:LTS", "Ubuntu", "22.04", true],
    ["Ubuntu:22.04", "Ubuntu", "22.04", true],
    ["Ubuntu:Pro:18.04:LTS", "Ubuntu", "Pro:18.04", true],
    ["AlmaLinux:9", "AlmaLinux", "9", true],
    ["Rocky Linux:8", "Rocky Linux", "8", true],
    ["Red Hat:enterprise_linux:9::appstream", "Red Hat", "enterprise_linux:9::appstream", true],
    ["SUSE:Linux Enterprise Server 15 SP5", "SUSE", "Linux Enterprise Server 15 SP5", true],
    ["npm", "npm", "", true],
    ["cargo", "crates.io", "", true],
    ["PyPI", "PyPI", "", true],
    ["RubyGems", "RubyGems", "", false],
    ["Alpine:v3.18", "Alpine", "v3.18", false],
  ])("%s → base %s, release %s", (ecosystem, base, release, supported) => {
    expect(ecosystemParts(ecosystem)).toEqual({ base, release, supported });
  });
});

describe("package keys", () => {
  it.each<[string, string, string]>([
    ["PyPI", "Jinja2", "jinja2"],
    ["PyPI", "zope.interface", "zope-interface"],
    ["PyPI", "typing_extensions", "typing-extensions"],
    ["npm", "JSONStream", "JSONStream"],
    ["Go", "github.com/BurntSushi/toml", "github.com/BurntSushi/toml"],
  ])("%s %s is compared as %s", (base, name, expected) => {
    expect(matchName(base, name)).toBe(expected);
  });

  it("keeps ecosystems apart", () => {
    expect(packageKey("npm", "lodash")).not.toBe(packageKey("PyPI", "lodash"));
  });
});
