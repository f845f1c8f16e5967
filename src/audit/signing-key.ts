import {
  createHash,
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  type KeyObject,
} from "node:crypto";
import { mkdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";
import { reasonError } from "../domain/errors.js";

/** The server's checkpoint signing key, kept in a file outside the database. */
export interface AuditSigningKey {
  readonly path: string;
  readonly privateKey: KeyObject;
  readonly publicKey: KeyObject;
  /** SubjectPublicKeyInfo, PEM: what `audit public-key` prints. */
  readonly publicKeyPem: string;
  readonly keyId: string;
}

/** SHA-256 of the public key's DER SubjectPublicKeyInfo, hex: `openssl pkey -pubin -outform DER | sha256sum`. */
export function keyIdOf(publicKey: KeyObject): string {
  return createHash("sha256")
    .update(publicKey.export({ type: "spki", format: "der" }))
    .digest("hex");
}

export interface LoadKeyOptions {
  /** Generate the key when the file is missing (the server on first start); offline commands only read. */
  create: boolean;
}

/**
 * Loads the ed25519 signing key, creating it with mode 0600 when allowed. Like ssh, it refuses a key
 * file that its group or others may read or write: a key anyone on the host can read signs nothing.
 */
export function loadSigningKey(path: string, options: LoadKeyOptions): AuditSigningKey {
  if (options.create) createKeyFileIfMissing(path);
  let mode: number;
  try {
    mode = statSync(path).mode;
  } catch (err) {
    throw reasonError(
      "audit.key-missing",
      `no audit signing key at ${path}: the server creates it on first start (or pass --audit-key)`,
      { where: path, cause: err },
    );
  }
  if (process.platform !== "win32" && (mode & 0o077) !== 0) {
    throw reasonError(
      "audit.key-permissions",
      `permissions ${(mode & 0o777).toString(8).padStart(4, "0")} for the audit signing key are too open: ` +
        `it must be readable by its owner only (chmod 600 ${path})`,
      { where: path },
    );
  }
  let privateKey: KeyObject;
  try {
    privateKey = createPrivateKey(readFileSync(path));
  } catch (err) {
    throw reasonError("audit.key-invalid", `${path} is not a PEM private key`, { where: path, cause: err });
  }
  if (privateKey.asymmetricKeyType !== "ed25519") {
    throw reasonError(
      "audit.key-invalid",
      `${path} holds a ${privateKey.asymmetricKeyType ?? "unknown"} key; audit checkpoints are signed with ed25519`,
      { where: path },
    );
  }
  const publicKey = createPublicKey(privateKey);
  return {
    path,
    privateKey,
    publicKey,
    publicKeyPem: publicKey.export({ type: "spki", format: "pem" }).toString(),
    keyId: keyIdOf(publicKey),
  };
}

function createKeyFileIfMissing(path: string): void {
  const { privateKey } = generateKeyPairSync("ed25519");
  const pem = privateKey.export({ type: "pkcs8", format: "pem" }).toString();
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  try {
    // "wx" fails when the file exists: two replicas starting together keep the first key written.
    writeFileSync(path, pem, { mode: 0o600, flag: "wx" });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
  }
}

/** Reads an ed25519 public key from PEM (SPKI), as `audit public-key` prints it. */
export function parsePublicKey(pem: string | Buffer, where: string): KeyObject {
  let key: KeyObject;
  try {
    key = createPublicKey(pem);
  } catch (err) {
    throw reasonError("audit.key-invalid", "not a PEM public key", { where, cause: err });
  }
  if (key.asymmetricKeyType !== "ed25519") {
    throw reasonError("audit.key-invalid", `a ${key.asymmetricKeyType ?? "unknown"} key, not ed25519`, {
      where,
    });
  }
  return key;
}
