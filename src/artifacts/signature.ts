import { type KeyObject, sign, verify } from "node:crypto";

/**
 * Artifacts are signed over the UTF-8 bytes of their sha256 hex digest: the host checks the digest of
 * the bytes it downloaded, then that the server's pinned key signed that digest.
 */
export function signArtifactDigest(privateKey: KeyObject, sha256: string): string {
  return sign(null, Buffer.from(sha256, "utf8"), privateKey).toString("base64");
}

export function verifyArtifactDigest(publicKey: KeyObject, sha256: string, signature: string): boolean {
  try {
    return verify(null, Buffer.from(sha256, "utf8"), publicKey, Buffer.from(signature, "base64"));
  } catch {
    return false;
  }
}
