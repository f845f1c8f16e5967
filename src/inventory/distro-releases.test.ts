import { describe, expect, it } from "vitest";
import { lacksRelease, NO_RELEASE_WARNING, releaseProblem, releaseWarnings } from "./distro-releases.js";

describe("releaseProblem", () => {
  it.each([
    "Debian:12",
    "Debian:11",
    "Debian:13",
    "Debian:sid",
    "Debian:6.0",
    "Ubuntu:22.04",
    "Ubuntu:22.04:LTS",
    "Ubuntu:Pro:18.04:LTS",
    "Ubuntu:24.10",
    "Ubuntu:14.04:LTS",
    // No release at all is a warning, not an error; other ecosystems are not checked here.
    "Debian",
    "Ubuntu",
    "npm",
    "AlmaLinux:9",
  ])("%s is taken", (ecosystem) => {
    expect(releaseProblem(ecosystem)).toBeNull();
  });

  it.each([
    ["Debian:99", /Debian has no release "99"/],
    ["Debian:bookworm", /no release "bookworm"/],
    ["Debian:12.5", /no release "12.5"/],
    ["Debian:", /no release ""/],
    ["Ubuntu:24.10:LTS", /Ubuntu has no release "24.10:LTS"/],
    ["Ubuntu:22.10:LTS", /no release/],
    ["Ubuntu:Pro:24.10", /no release/],
    ["Ubuntu:99.04", /no release/],
  ])("%s is refused", (ecosystem, message) => {
    expect(releaseProblem(ecosystem)).toMatch(message);
  });
});

describe("releaseWarnings", () => {
  it("warns once when every package lacks a release, and counts a mixed inventory", () => {
    expect(releaseWarnings([{ ecosystem: "Debian" }, { ecosystem: "Debian" }])).toEqual([NO_RELEASE_WARNING]);
    expect(releaseWarnings([{ ecosystem: "Debian" }, { ecosystem: "npm" }])).toEqual([
      expect.stringMatching(/^1 of the 2 packages are Debian or Ubuntu packages that name no release/),
    ]);
    expect(releaseWarnings([{ ecosystem: "Debian:12" }, { ecosystem: "npm" }])).toEqual([]);
    expect(releaseWarnings([])).toEqual([]);
  });

  it("lacksRelease is about the dpkg distributions only", () => {
    expect([
      lacksRelease("Debian"),
      lacksRelease("Ubuntu"),
      lacksRelease("Debian:12"),
      lacksRelease("npm"),
    ]).toEqual([true, true, false, false]);
  });
});
