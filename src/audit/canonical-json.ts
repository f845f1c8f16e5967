import { createHash } from "node:crypto";
import canonicalize from "canonicalize";

/**
 * RFC 8785 (JSON Canonicalization Scheme) text of a value: the same bytes on every machine. Plain
 * values take a direct path that writes the bytes the `canonicalize` package writes (a property test
 * holds the two together); anything else is left to the package.
 */
export function canonicalJson(value: unknown): string {
  const text = plainCanonicalJson(value) ?? canonicalize(value);
  if (text === undefined) throw new TypeError("value has no JSON representation");
  return text;
}

export function sha256Hex(text: string): string {
  return createHash("sha256").update(text, "utf8").digest("hex");
}

/** Deeper than this, the package's path is taken: it names a cycle, where this one would recurse on. */
const PLAIN_DEPTH = 64;

/** What JSON.stringify escapes in a string (quote, backslash, controls) and surrogates, lone or paired. */
// biome-ignore lint/suspicious/noControlCharactersInRegex: the controls are what JSON escapes.
const ESCAPED = /["\\\u0000-\u001f\ud800-\udfff]/;

/**
 * The canonical text of a value built only of well-formed strings (no lone surrogate), finite numbers,
 * booleans, null, arrays without holes and plain objects (undefined and symbol members left out, as
 * JSON leaves them); undefined for anything else. The package checks every character of every string
 * for lone surrogates, tracks the path for cycles, calls JSON.stringify for every string and number and
 * joins arrays of parts: on the audit events' payloads, three times the cost of writing the text
 * straight. Strings are written as JSON.stringify writes them, numbers as ECMAScript's Number-to-String
 * (which JSON.stringify and RFC 8785 use), and keys are sorted by UTF-16 code units, as RFC 8785 and the
 * package sort them.
 */
export function plainCanonicalJson(value: unknown): string | undefined {
  return plainText(value, 0);
}

function plainString(text: string): string | undefined {
  // Most strings need no escape: JSON.stringify would only put quotes around them.
  if (!ESCAPED.test(text)) return `"${text}"`;
  // A lone surrogate: the package rejects it.
  return text.isWellFormed() ? JSON.stringify(text) : undefined;
}

function plainText(value: unknown, depth: number): string | undefined {
  switch (typeof value) {
    case "string":
      return plainString(value);
    case "number":
      return Number.isFinite(value) ? String(value) : undefined;
    case "boolean":
      return value ? "true" : "false";
    case "object":
      break;
    default:
      return undefined;
  }
  if (value === null) return "null";
  if (depth >= PLAIN_DEPTH || typeof (value as { toJSON?: unknown }).toJSON === "function") return undefined;
  const proto: unknown = Object.getPrototypeOf(value);
  if (Array.isArray(value)) {
    if (proto !== Array.prototype) return undefined;
    let out = "[";
    for (let i = 0; i < value.length; i++) {
      // A hole or an undefined item: the package writes these its own way.
      const item = plainText(value[i], depth + 1);
      if (item === undefined) return undefined;
      out += i === 0 ? item : `,${item}`;
    }
    return `${out}]`;
  }
  if (proto !== Object.prototype && proto !== null) return undefined;
  const record = value as Record<string, unknown>;
  const keys = Object.keys(record);
  if (keys.length > 1) keys.sort();
  let out = "{";
  for (const key of keys) {
    const member = record[key];
    if (member === undefined || typeof member === "symbol") continue;
    const name = plainString(key);
    const text = name === undefined ? undefined : plainText(member, depth + 1);
    if (text === undefined) return undefined;
    out += out.length === 1 ? `${name}:${text}` : `,${name}:${text}`;
  }
  return `${out}}`;
}
