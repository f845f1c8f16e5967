/**
 * deb822 text (dpkg's status database, a .deb's control file): paragraphs of `Field: value` lines.
 * Hand-written: no maintained npm package parses deb822 with line numbers, and the format is a few
 * lines of rules.
 */
import { ValidationError } from "../domain/errors.js";

// The three words of the Status field, from dpkg-query(1) "Package information" / dpkg(1), each with
// the letter dpkg-query's `db:Status-Abbrev` prints for it.
export const STATUS_WANTS: Readonly<Record<string, string>> = {
  unknown: "u",
  install: "i",
  hold: "h",
  deinstall: "r",
  purge: "p",
};
export const STATUS_FLAGS: Readonly<Record<string, string>> = { ok: " ", reinstreq: "R" };
export const STATUS_STATES: Readonly<Record<string, string>> = {
  "not-installed": "n",
  "config-files": "c",
  "half-installed": "H",
  unpacked: "U",
  "half-configured": "F",
  "triggers-awaited": "W",
  "triggers-pending": "t",
  installed: "i",
};

export interface Deb822Field {
  value: string;
  line: number;
}

export interface Deb822Paragraph {
  line: number;
  fields: Map<string, Deb822Field>;
}

// deb822 field names: printable US-ASCII but ":" and space, not starting with "#" or "-".
const FIELD_NAME = /^[!-9;-~]+$/;

/** Splits deb822 text into paragraphs, keeping each field's first line number. */
export function deb822Paragraphs(text: string, where: (line: number) => string): Deb822Paragraph[] {
  const out: Deb822Paragraph[] = [];
  let current: Deb822Paragraph | null = null;
  let last: Deb822Field | null = null;
  const lines = text.split(/\r?\n/);
  lines.forEach((raw, index) => {
    const line = index + 1;
    if (raw.trim() === "") {
      current = null;
      last = null;
      return;
    }
    if (raw.startsWith(" ") || raw.startsWith("\t")) {
      if (last === null) {
        throw new ValidationError("continuation line (starting with a space or tab) before any field", {
          where: where(line),
        });
      }
      last.value += `\n${raw.slice(1)}`;
      return;
    }
    const colon = raw.indexOf(":");
    if (colon < 0) {
      throw new ValidationError('expected "Field: value" but the line has no colon', { where: where(line) });
    }
    const name = raw.slice(0, colon);
    if (!FIELD_NAME.test(name) || name.startsWith("#") || name.startsWith("-")) {
      throw new ValidationError(`invalid field name "${name}"`, { where: where(line) });
    }
    if (current === null) {
      current = { line, fields: new Map() };
      out.push(current);
    }
    // deb822 field names are case-insensitive.
    const key = name.toLowerCase();
    const seen = current.fields.get(key);
    if (seen) {
      throw new ValidationError(`duplicate field "${name}" (first on line ${seen.line})`, {
        where: where(line),
      });
    }
    last = { value: raw.slice(colon + 1).trim(), line };
    current.fields.set(key, last);
  });
  return out;
}

/** First line of a field's value, trimmed (multi-line fields such as Description are not needed here). */
export function deb822Single(p: Deb822Paragraph, name: string): Deb822Field | undefined {
  const f = p.fields.get(name);
  return f === undefined ? undefined : { value: (f.value.split("\n")[0] ?? "").trim(), line: f.line };
}
