/**
 * Kubernetes-style label selectors: `env=prod,group in (web,api),!canary,region!=eu`.
 * Hand-written: no maintained npm package parses Kubernetes label selectors outside a Kubernetes client.
 */
import { ValidationError } from "./errors.js";
import type { Asset } from "./inventory.js";

export type Requirement =
  | { key: string; op: "exists" | "not-exists" }
  | { key: string; op: "=" | "!="; value: string }
  | { key: string; op: "in" | "notin"; values: string[] };

export interface Selector {
  /** All must hold (comma = AND); none means everything matches. */
  requirements: Requirement[];
}

/** Built-in asset fields a selector can name; labels may not reuse them. */
export const RESERVED_LABEL_KEYS: ReadonlySet<string> = new Set([
  "name",
  "kind",
  "environment",
  "env",
  "group",
  "region",
  "owner",
  "criticality",
]);

const KEY_CHAR = /[A-Za-z0-9._\-/]/;
// Values also take ":", "@" and "+" so host names, versions and e-mail owners can be matched.
const VALUE_CHAR = /[A-Za-z0-9._\-/:@+]/;
const SPACE = /\s/;

class SelectorParser {
  private pos = 0;

  constructor(private readonly text: string) {}

  parse(): Selector {
    const requirements: Requirement[] = [];
    this.skipSpace();
    if (this.atEnd()) return { requirements };
    for (;;) {
      requirements.push(this.requirement());
      this.skipSpace();
      if (this.atEnd()) return { requirements };
      if (this.peek() !== ",") this.fail('expected "," or the end of the selector');
      this.pos++;
      this.skipSpace();
    }
  }

  private requirement(): Requirement {
    if (this.peek() === "!") {
      this.pos++;
      this.skipSpace();
      const key = this.word(KEY_CHAR, 'expected a label key after "!"');
      this.skipSpace();
      if (!this.atEnd() && this.peek() !== ",") {
        this.fail('expected "," or the end of the selector ("!key" takes no value)');
      }
      return { key, op: "not-exists" };
    }
    const key = this.word(KEY_CHAR, "expected a label key");
    this.skipSpace();
    if (this.atEnd() || this.peek() === ",") return { key, op: "exists" };
    if (this.text.startsWith("!=", this.pos)) {
      this.pos += 2;
      return { key, op: "!=", value: this.value('"!="') };
    }
    if (this.text.startsWith("==", this.pos)) {
      this.pos += 2;
      return { key, op: "=", value: this.value('"=="') };
    }
    if (this.peek() === "=") {
      this.pos++;
      return { key, op: "=", value: this.value('"="') };
    }
    const start = this.pos;
    const word = this.scan(KEY_CHAR);
    if (word === "in" || word === "notin") return { key, op: word, values: this.valueList(word) };
    this.pos = start;
    return this.fail('expected "=", "==", "!=", "in", "notin", "," or the end of the selector');
  }

  private value(after: string): string {
    this.skipSpace();
    return this.word(VALUE_CHAR, `expected a value after ${after}`);
  }

  private valueList(op: string): string[] {
    this.skipSpace();
    if (this.peek() !== "(") this.fail(`expected "(" after "${op}"`);
    this.pos++;
    const values: string[] = [];
    for (;;) {
      this.skipSpace();
      values.push(this.word(VALUE_CHAR, "expected a value in the list"));
      this.skipSpace();
      if (this.peek() === ")") {
        this.pos++;
        return values;
      }
      if (this.peek() !== ",") this.fail('expected ")" to close the value list');
      this.pos++;
    }
  }

  private word(chars: RegExp, expected: string): string {
    const w = this.scan(chars);
    if (w === "") this.fail(expected);
    return w;
  }

  private scan(chars: RegExp): string {
    const start = this.pos;
    while (!this.atEnd() && chars.test(this.peek())) this.pos++;
    return this.text.slice(start, this.pos);
  }

  private skipSpace(): void {
    while (!this.atEnd() && SPACE.test(this.peek())) this.pos++;
  }

  private peek(): string {
    return this.text[this.pos] ?? "";
  }

  private atEnd(): boolean {
    return this.pos >= this.text.length;
  }

  private fail(expected: string): never {
    // Whitespace is shown as plain spaces so the caret lines up under the offending character.
    const shown = this.text.replace(/\s/g, " ");
    throw new ValidationError(`${expected}\n  ${shown}\n  ${" ".repeat(this.pos)}^`, {
      where: `offset ${this.pos}`,
      details: { offset: this.pos, selector: this.text },
    });
  }
}

/** Parses a selector; throws ValidationError with `where: "offset N"` and a caret message on bad input. */
export function parseSelector(text: string): Selector {
  return new SelectorParser(text).parse();
}

function holds(r: Requirement, view: Readonly<Record<string, string>>): boolean {
  const has = Object.hasOwn(view, r.key);
  const value = has ? view[r.key] : undefined;
  switch (r.op) {
    case "exists":
      return has;
    case "not-exists":
      return !has;
    case "=":
      return value === r.value;
    // As in Kubernetes, "!=" and "notin" also match objects that lack the key.
    case "!=":
      return value !== r.value;
    case "in":
      return value !== undefined && r.values.includes(value);
    case "notin":
      return value === undefined || !r.values.includes(value);
  }
}

export function matchesSelector(selector: Selector, view: Readonly<Record<string, string>>): boolean {
  return selector.requirements.every((r) => holds(r, view));
}

export type SelectableAsset = Pick<
  Asset,
  "name" | "kind" | "environment" | "group" | "region" | "owner" | "criticality" | "labels"
>;

/** The key/value view a selector matches against: labels, overridden by the built-in asset fields. */
export function selectorView(asset: SelectableAsset): Record<string, string> {
  return {
    ...asset.labels,
    name: asset.name,
    kind: asset.kind,
    environment: asset.environment,
    env: asset.environment,
    group: asset.group,
    region: asset.region,
    owner: asset.owner,
    criticality: String(asset.criticality),
  };
}

function formatRequirement(r: Requirement): string {
  switch (r.op) {
    case "exists":
      return r.key;
    case "not-exists":
      return `!${r.key}`;
    case "=":
    case "!=":
      return `${r.key}${r.op}${r.value}`;
    case "in":
    case "notin":
      return `${r.key} ${r.op} (${[...new Set(r.values)].sort().join(",")})`;
  }
}

/** Canonical text: requirements sorted and deduplicated, "==" as "=", list values sorted, no extra spaces. */
export function formatSelector(selector: Selector): string {
  return [...new Set(selector.requirements.map(formatRequirement))].sort().join(",");
}
