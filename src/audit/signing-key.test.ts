import { generateKeyPairSync } from "node:crypto";
import { chmodSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { isAppError } from "../domain/errors.js";
import { loadSigningKey, parsePublicKey } from "./signing-key.js";

function reasonOf(fn: () => unknown): string | null {
  try {
    fn();
  } catch (err) {
    return isAppError(err) ? err.reason : `not an AppError: ${String(err)}`;
  }
  return null;
}

describe("the audit signing key file", () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), "autopatch-key-"));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it("is created once with mode 0600, and the same key is loaded again", () => {
    const path = join(dir, "state", "audit-key.pem");
    const first = loadSigningKey(path, { create: true });
    expect(statSync(path).mode & 0o777).toBe(0o600);
    const again = loadSigningKey(path, { create: true });
    expect(again.keyId).toBe(first.keyId);
    expect(again.publicKeyPem).toBe(first.publicKeyPem);
    expect(first.keyId).toMatch(/^[0-9a-f]{64}$/);
    expect(readFileSync(path, "utf8")).toMatch(/^-----BEGIN PRIVATE KEY-----/);
  });

  it.each([0o640, 0o604, 0o660, 0o644])("is refused with mode %o, as ssh refuses a readable key", (mode) => {
    const path = join(dir, "audit-key.pem");
    loadSigningKey(path, { create: true });
    chmodSync(path, mode);
    expect(reasonOf(() => loadSigningKey(path, { create: false }))).toBe("audit.key-permissions");
  });

  it("is not created by offline commands, and must be an ed25519 private key", () => {
    expect(reasonOf(() => loadSigningKey(join(dir, "missing.pem"), { create: false }))).toBe(
      "audit.key-missing",
    );
    const rsa = join(dir, "rsa.pem");
    const { privateKey } = generateKeyPairSync("rsa", { modulusLength: 1024 });
    writeFileSync(rsa, privateKey.export({ type: "pkcs8", format: "pem" }), { mode: 0o600 });
    expect(reasonOf(() => loadSigningKey(rsa, { create: false }))).toBe("audit.key-invalid");
    const junk = join(dir, "junk.pem");
    writeFileSync(junk, "not a key", { mode: 0o600 });
    expect(reasonOf(() => loadSigningKey(junk, { create: false }))).toBe("audit.key-invalid");
  });

  it("has a public key that reads back as the one that verifies", () => {
    const key = loadSigningKey(join(dir, "audit-key.pem"), { create: true });
    expect(parsePublicKey(key.publicKeyPem, "pub.pem").equals(key.publicKey)).toBe(true);
    expect(
      reasonOf(() => parsePublicKey("-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n", "x")),
    ).toBe("audit.key-invalid");
  });
});
