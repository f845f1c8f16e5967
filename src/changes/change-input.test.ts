import { describe, expect, it } from "vitest";
import { parseChangeInput } from "./change-input.js";

const ok = {
  package: "openssl",
  version: "3.0.15-1~deb12u1",
  selector: "environment=prod,group in (web,api)",
  justification: "CVE-2024-5535",
};

describe("parseChangeInput", () => {
  it("accepts a complete change and trims text", () => {
    expect(
      parseChangeInput({
        ...ok,
        package: " openssl ",
        artifact: { name: "openssl_3.0.15-1~deb12u1_amd64.deb", sha256: "0".repeat(64) },
        advisories: ["CVE-2024-5535", "DSA-5764-1"],
        ticket: "CHG-1234",
        emergency: true,
        class: "emergency",
      }),
    ).toMatchObject({ package: "openssl", emergency: true, advisories: ["CVE-2024-5535", "DSA-5764-1"] });
  });

  it.each([
    [{ ...ok, package: undefined }, "/package", "the package name is required"],
    [{ ...ok, version: "" }, "/version", "the target version must not be empty"],
    [{ ...ok, selector: undefined }, "/selector", "the target selector is required"],
    [{ ...ok, justification: "   " }, "/justification", "the justification must not be empty"],
    [{ ...ok, justification: 42 }, "/justification", "the justification must be text"],
    [
      { ...ok, artifact: { name: "x.deb", sha256: "ABC" } },
      "/artifact/sha256",
      "sha256 is 64 lowercase hex digits",
    ],
    [{ ...ok, advisories: ["CVE-1", ""] }, "/advisories/1", "an advisory id must not be empty"],
    [{ ...ok, class: "urgent" }, "/class", undefined],
    [{ ...ok, colour: "red" }, "/colour", 'unknown field "colour"'],
    [{ ...ok, class: "emergency", emergency: false }, "/emergency", undefined],
    [{ ...ok, package: "openssl && reboot" }, "/package", undefined],
    [{ ...ok, version: "3.0.15-1;id" }, "/version", undefined],
    [{ ...ok, version: "1.0-" }, "/version", '"1.0-" is not a deb version: revision is empty'],
    [{ ...ok, ecosystem: "PyPI", version: "1.0-1~deb" }, "/version", undefined],
    [{ ...ok, ecosystem: "nope" }, "/ecosystem", undefined],
  ])("%j → %s", (input, where, message) => {
    let thrown: unknown;
    try {
      parseChangeInput(input);
    } catch (err) {
      thrown = err;
    }
    expect(thrown).toMatchObject({ code: "validation", where, ...(message ? { message } : {}) });
  });
});
