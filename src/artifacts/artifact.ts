import { z } from "zod";

/** The largest package file the store takes: the biggest Debian packages (kernels, browsers) fit well. */
export const MAX_ARTIFACT_BYTES = 256 * 1024 * 1024;

/** The media types an upload may carry: Debian's own, or plain bytes. */
export const ARTIFACT_MEDIA_TYPES = ["application/vnd.debian.binary-package", "application/octet-stream"];

/** What the store knows of an artifact, without its bytes. */
export const artifactMetaSchema = z.object({
  sha256: z.string(),
  /** `<package>_<version without epoch>_<arch>.deb`, made from the control fields, never from the client. */
  fileName: z.string(),
  package: z.string(),
  version: z.string(),
  arch: z.string(),
  size: z.number().int(),
  /** base64 ed25519 signature over the UTF-8 bytes of the sha256 hex digest. */
  signature: z.string(),
  /** SHA-256 of the signing public key's DER SubjectPublicKeyInfo, hex. */
  keyId: z.string(),
  createdBy: z.string(),
  createdAt: z.string(),
});
export type ArtifactMeta = z.infer<typeof artifactMetaSchema>;

export const SHA256_HEX = /^[0-9a-f]{64}$/;
