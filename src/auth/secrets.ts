import { createHash, randomBytes } from "node:crypto";

/** Prefixes make leaked secrets recognisable by scanners and people: api token, enrollment, agent. */
export type SecretKind = "apt" | "ape" | "apa";

export function newSecret(kind: SecretKind): string {
  return `${kind}_${randomBytes(24).toString("base64url")}`;
}

/** Tokens are stored as SHA-256 only: they are random and long, so a slow hash adds nothing. */
export function hashSecret(secret: string): string {
  return createHash("sha256").update(secret, "utf8").digest("hex");
}
