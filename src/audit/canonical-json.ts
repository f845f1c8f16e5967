import { createHash } from "node:crypto";
import canonicalize from "canonicalize";

/** RFC 8785 (JSON Canonicalization Scheme) text of a value: the same bytes on every machine. */
export function canonicalJson(value: unknown): string {
  const text = canonicalize(value);
  if (text === undefined) throw new TypeError("value has no JSON representation");
  return text;
}

export function sha256Hex(text: string): string {
  return createHash("sha256").update(text, "utf8").digest("hex");
}
