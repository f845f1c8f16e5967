import type { ErrorReason } from "./error-reasons.js";
import { reasonError } from "./errors.js";

/**
 * A label value as Kubernetes spells it: up to 63 of A-Z a-z 0-9 - _ ., starting and ending with a
 * letter or digit (or empty). Asset labels use it as is; names of principals and tokens use it lowercased.
 */
export const LABEL_VALUE_PATTERN = /^([A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)?$/;

const NAME_PATTERN = /^[a-z0-9]([-a-z0-9_.]{0,61}[a-z0-9])?$/;

/** Direction controls: they make a name display as another one (U+202E turns "nimda" into "admin"). */
const BIDI_CONTROL = /[\u061C\u200E\u200F\u202A-\u202E\u2066-\u2069]/u;

/** Characters that do not show, or show as nothing: two names differing only by them look the same. */
const INVISIBLE = /[\p{Cf}\p{Zl}\p{Zp}\p{Co}\p{Cn}]|\p{Default_Ignorable_Code_Point}/u;

/** What kind of character a refused one is, for the message; null when it is visible text. */
export function hiddenCharacterKind(char: string): string | null {
  if (/\p{Cc}/u.test(char)) return char === "\0" ? "a NUL character" : "a control character";
  if (/\p{Cs}/u.test(char)) return "a lone surrogate";
  if (BIDI_CONTROL.test(char)) return "a bidirectional text control character";
  if (INVISIBLE.test(char)) return "an invisible character";
  return null;
}

function codePoint(char: string): string {
  return `U+${(char.codePointAt(0) ?? 0).toString(16).toUpperCase().padStart(4, "0")}`;
}

/** The text with every hidden character spelled as its code point, so a message shows what is there. */
export function visible(text: string): string {
  let out = "";
  for (const char of text) out += hiddenCharacterKind(char) === null ? char : `<${codePoint(char)}>`;
  return out;
}

export interface NameRule {
  /** What the name names, for messages: "principal name", "token name". */
  what: string;
  /** Where the name came from: a JSON pointer or a flag. */
  where: string;
  reason: ErrorReason;
  /** Names that belong to the server itself. */
  reserved?: ReadonlySet<string>;
}

/**
 * A name of a principal or token as it is stored and compared: NFC, lowercase, label value characters.
 * Names with control, bidirectional or invisible characters are refused rather than cleaned, so what
 * a person reads is what is compared.
 */
export function normaliseName(raw: string, rule: NameRule): string {
  const fail = (message: string) => reasonError(rule.reason, message, { where: rule.where });
  let offset = 0;
  for (const char of raw) {
    const kind = hiddenCharacterKind(char);
    if (kind !== null) {
      throw fail(
        `${rule.what} "${visible(raw)}" contains ${kind} (${codePoint(char)}) at offset ${offset}; ` +
          "use letters, digits, -, _ and .",
      );
    }
    offset += char.length;
  }
  const name = raw.normalize("NFC").toLowerCase();
  if (name.length === 0 || name.length > 63) {
    throw fail(`${rule.what} "${raw}" must be 1–63 characters`);
  }
  if (!NAME_PATTERN.test(name)) {
    throw fail(
      `${rule.what} "${raw}" may use only letters a-z (compared lowercase), digits, -, _ and ., ` +
        "starting and ending with a letter or digit",
    );
  }
  if (rule.reserved?.has(name)) throw fail(`${rule.what} "${name}" is reserved for the server itself`);
  return name;
}
