import { generateKeyPairSync, sign } from "node:crypto";
import { describe, expect, it } from "vitest";
import { AppError } from "../../domain/errors.js";
import { pinnedServerKey, signatureIsValid } from "./artifacts.js";

const server = generateKeyPairSync("ed25519");
const other = generateKeyPairSync("ed25519");
const pem = server.publicKey.export({ type: "spki", format: "pem" }).toString();
const digest = "a".repeat(64);
const signed = (key = server.privateKey, text = digest) =>
  sign(null, Buffer.from(text, "utf8"), key).toString("base64");

describe("artifact signatures", () => {
  it.each([
    ["the server's signature of the digest", signed(), true],
    ["another key's signature", signed(other.privateKey), false],
    ["a signature of another digest", signed(server.privateKey, "b".repeat(64)), false],
    ["garbage", "not base64 at all!", false],
    ["nothing", "", false],
  ])("%s → %s", (_name, signature, valid) => {
    expect(signatureIsValid(pinnedServerKey(pem), digest, signature)).toBe(valid);
  });

  it.each([
    ["missing", undefined],
    ["not PEM", "hello"],
    [
      "not ed25519",
      generateKeyPairSync("ec", { namedCurve: "P-256" })
        .publicKey.export({ type: "spki", format: "pem" })
        .toString(),
    ],
  ])("refuses a pinned key that is %s", (_name, value) => {
    let err: unknown;
    try {
      pinnedServerKey(value);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(AppError);
    expect((err as AppError).reason).toBe("agent.server-key-missing");
  });
});
