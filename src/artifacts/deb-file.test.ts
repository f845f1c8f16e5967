import { describe, expect, it } from "vitest";
import { identityOf } from "./deb-file.js";

describe("identityOf", () => {
  it.each([
    [
      "Package: openssl\nVersion: 3.0.15-1~deb12u1\nArchitecture: amd64\n",
      "openssl_3.0.15-1~deb12u1_amd64.deb",
    ],
    ["Package: tzdata\nVersion: 2024a-0+deb12u1\nArchitecture: all\n", "tzdata_2024a-0+deb12u1_all.deb"],
    // dpkg-deb leaves the epoch out of file names.
    [
      "Package: openssh-client\nVersion: 1:9.2p1-2+deb12u3\nArchitecture: arm64\n",
      "openssh-client_9.2p1-2+deb12u3_arm64.deb",
    ],
  ])("reads %j", (fields, fileName) => {
    expect(identityOf(fields).fileName).toBe(fileName);
  });

  it.each([
    ["Package: Bad_Name\nVersion: 1.0\nArchitecture: all\n", "/body/control/Package"],
    ["Package: ok\nVersion: not a version\nArchitecture: all\n", "/body/control/Version"],
    ["Package: ok\nVersion: 1.0\nArchitecture: ../../etc\n", "/body/control/Architecture"],
    ["Package: ok\nVersion: 1.0\n", "/body/control/Architecture"],
  ])("refuses %j, naming the field", (fields, where) => {
    expect(() => identityOf(fields)).toThrow(
      expect.objectContaining({ reason: "artifact.invalid-control", where }),
    );
  });
});
