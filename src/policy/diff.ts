/**
 * What applying a policy would change, as `terraform plan` shows it: a unified diff of the YAML as
 * written, and a summary of the sections whose meaning changes (the parsed policies compared, defaults
 * included), so a comment-only edit shows lines but no change of meaning.
 */
import { createTwoFilesPatch } from "diff";
import { z } from "zod";
import { canonicalJson } from "./loader.js";
import type { Policy } from "./schema.js";

/** One version being compared: a label for the diff header, its YAML and the parsed policy. */
export interface DiffSide {
  label: string;
  content: string;
  policy: Policy;
}

/** What an apply would change: the one schema of its shape (the API publishes it). */
export const policyDiffSchema = z
  .object({
    /** The label of the stored side; null when there is none (a new name). */
    from: z.string().nullable(),
    to: z.string(),
    unified: z.string().meta({ description: "Unified diff of the YAML as written; empty when equal." }),
    /** Sections whose parsed value changes, in the policy's section order. */
    sections: z.array(
      z.object({
        section: z.string(),
        changes: z.array(
          /** One field whose value changes (path inside its section: `sla.emergency`, `phases[1].wave`); absent before (added) or after (removed). */
          z.object({ path: z.string(), before: z.unknown().optional(), after: z.unknown().optional() }),
        ),
      }),
    ),
  })
  .meta({ id: "PolicyDiff" });

export type PolicyDiff = z.infer<typeof policyDiffSchema>;
export type SectionChange = PolicyDiff["sections"][number];
export type FieldChange = SectionChange["changes"][number];

/** Fields listed per section; more are counted, not listed. */
const MAX_FIELDS = 20;

/** The diff from `before` (null: nothing stored yet) to `after`. */
export function diffPolicies(before: DiffSide | null, after: DiffSide): PolicyDiff {
  // jsdiff starts with a line of `=`; without it the text reads as `diff -u` and `git diff` print it.
  const unified =
    before !== null && before.content === after.content
      ? ""
      : createTwoFilesPatch(
          before?.label ?? "/dev/null",
          after.label,
          before?.content ?? "",
          after.content,
          "",
          "",
          { context: 3 },
        ).replace(/^=+\n/, "");
  const a = (before?.policy ?? {}) as Record<string, unknown>;
  const b = after.policy as Record<string, unknown>;
  const keys = [...new Set([...Object.keys(b), ...Object.keys(a)])];
  const sections: SectionChange[] = [];
  for (const section of keys) {
    if (canonicalJson(a[section]) === canonicalJson(b[section])) continue;
    const changes: FieldChange[] = [];
    leafChanges(a[section], b[section], "", changes);
    sections.push({ section, changes });
  }
  return { from: before?.label ?? null, to: after.label, unified, sections };
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === "object" && !Array.isArray(v);
}

function leafChanges(a: unknown, b: unknown, path: string, out: FieldChange[]): void {
  if (canonicalJson(a) === canonicalJson(b)) return;
  if (isRecord(a) && isRecord(b)) {
    for (const key of new Set([...Object.keys(a), ...Object.keys(b)])) {
      leafChanges(a[key], b[key], path === "" ? key : `${path}.${key}`, out);
    }
    return;
  }
  if (Array.isArray(a) && Array.isArray(b)) {
    for (let i = 0; i < Math.max(a.length, b.length); i++) leafChanges(a[i], b[i], `${path}[${i}]`, out);
    return;
  }
  out.push({
    path: path === "" ? "(whole section)" : path,
    ...(a === undefined ? {} : { before: a }),
    ...(b === undefined ? {} : { after: b }),
  });
}

function show(v: unknown): string {
  const text = JSON.stringify(v) ?? "undefined";
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
}

/** One line per changed field: `  classification: sla.emergency 0 -> "4h"`. */
export function summaryLines(diff: PolicyDiff): string[] {
  if (diff.sections.length === 0) return ["No change in meaning."];
  const lines = [`Sections changed: ${diff.sections.map((s) => s.section).join(", ")}`];
  for (const { section, changes } of diff.sections) {
    for (const c of changes.slice(0, MAX_FIELDS)) {
      const change =
        c.before === undefined
          ? `added ${show(c.after)}`
          : c.after === undefined
            ? `removed (was ${show(c.before)})`
            : `${show(c.before)} -> ${show(c.after)}`;
      lines.push(`  ${section}: ${c.path} ${change}`);
    }
    if (changes.length > MAX_FIELDS) lines.push(`  ${section}: … and ${changes.length - MAX_FIELDS} more`);
  }
  return lines;
}

/** The unified diff followed by the summary, as `policy diff` and `policy apply` print it. */
export function formatPolicyDiff(diff: PolicyDiff): string {
  const unified = diff.unified === "" ? "" : diff.unified.endsWith("\n") ? diff.unified : `${diff.unified}\n`;
  return `${unified}${summaryLines(diff).join("\n")}\n`;
}
