/**
 * Reads policy YAML and reports every problem with its line and column, so `policy validate` can print
 * `file.yaml:12:15: sat-night.duration: "4x" is not a duration (use e.g. 30m, 4h, 2d)`.
 */
import { createHash } from "node:crypto";
import {
  type Document,
  isAlias,
  isMap,
  isScalar,
  isSeq,
  LineCounter,
  type Node,
  parseDocument,
  visit,
} from "yaml";
import { z } from "zod";
import type { ErrorReason } from "../domain/error-reasons.js";
import { jsonPointer, ValidationError } from "../domain/errors.js";
import { describeInputProblem, findInputProblem } from "../domain/input-shape.js";
import { type ConsistencyIssue, policyConsistency } from "./consistency.js";
import { type Policy, PolicySchema } from "./schema.js";
import { didYouMean } from "./suggest.js";
import { EMPTY_ALLOW_LIST, refusedWebhookUrl, type WebhookAllowList } from "./webhook-destination.js";

/** One problem in a policy file; line and column are 1-based, path is a JSON pointer. */
export interface PolicyIssue {
  line: number;
  column: number;
  path: string;
  message: string;
  /** The specific situation when it is not a plain validation problem. */
  reason?: ErrorReason;
}

/** Valid: the policy and what deserves a look (warnings); invalid: every problem. */
export type PolicyValidation =
  | { ok: true; policy: Policy; warnings: PolicyIssue[] }
  | { ok: false; errors: PolicyIssue[] };

export interface PolicyCheckOptions {
  /**
   * The server's webhook allow-list; by default no private or loopback destination is allowed. `null`
   * skips the destination check, for stored versions that were checked when applied (delivery checks
   * again under the allow-list of the day).
   */
  webhooks?: WebhookAllowList | null;
  /**
   * Run the cross-field checks (waves past 100 %, empty freezes, phases empty at the typical fleet size);
   * default true. Stored versions are read with false: they were checked when applied.
   */
  consistency?: boolean;
  /** The fleet size to warn about empty phases at, instead of `rollout.typicalFleetSize`. */
  fleetSize?: number;
}

/**
 * Aliases a policy may expand. A policy has no reason for many; a "billion laughs" document expands a
 * few lines into gigabytes, which the yaml package refuses once this many are resolved.
 */
const MAX_YAML_ALIAS_COUNT = 100;

type PathKey = string | number;

/**
 * The one policy checker: `policy validate`, `policy apply` (CLI and API) and loading a version for
 * planning all run it, so what it passes is what apply and planning accept. Never throws for bad input.
 */
export function validatePolicy(
  text: string,
  _file?: string,
  options: PolicyCheckOptions = {},
): PolicyValidation {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: true });
  if (doc.errors.length > 0) {
    return {
      ok: false,
      errors: doc.errors.map((e) => ({
        line: e.linePos?.[0].line ?? 1,
        column: e.linePos?.[0].col ?? 1,
        path: "/",
        // prettyErrors appends " at line L, column C:" and a source excerpt; the location is in the fields.
        message: `YAML syntax: ${(e.message.split("\n")[0] ?? e.message).replace(/ at line \d+, column \d+:?$/, "")}`,
      })),
    };
  }
  const at = (offset: number): { line: number; column: number } => {
    const pos = lineCounter.linePos(offset);
    return { line: pos.line, column: pos.col };
  };
  if (doc.contents === null) {
    // An empty file, or only comments: applying it would store a policy of nothing but defaults.
    return {
      ok: false,
      errors: [{ line: 1, column: 1, path: "/", message: "the policy file is empty", reason: "input.empty" }],
    };
  }
  let data: unknown;
  try {
    data = doc.toJS({ maxAliasCount: MAX_YAML_ALIAS_COUNT });
  } catch (err) {
    if (!(err instanceof ReferenceError)) throw err;
    return {
      ok: false,
      errors: [
        {
          ...at(firstAliasOffset(doc)),
          path: "/",
          message: `YAML aliases expand past ${MAX_YAML_ALIAS_COUNT} nodes (an alias bomb?); write the values out`,
          reason: "input.yaml-aliases",
        },
      ],
    };
  }
  const locate = (path: readonly PathKey[], key?: string): { line: number; column: number } =>
    at(nodeAt(doc.contents, path, key)?.range?.[0] ?? 0);
  const shape = findInputProblem(data);
  if (shape !== null) {
    return {
      ok: false,
      errors: [
        {
          ...locate(shape.path),
          path: jsonPointer(shape.path),
          message: describeInputProblem(shape),
          reason: shape.kind === "lone-surrogate" ? "input.lone-surrogate" : "input.too-deep",
        },
      ],
    };
  }
  data ??= {};
  if (typeof data !== "object" || data === null || Array.isArray(data)) {
    return {
      ok: false,
      errors: [
        {
          line: 1,
          column: 1,
          path: "/",
          message: "a policy is a mapping of sections (name, maintenanceWindows, …)",
        },
      ],
    };
  }
  const result = PolicySchema.safeParse(data, { reportInput: true });
  if (result.success) {
    const refused = webhookIssues(
      result.data,
      options.webhooks === undefined ? EMPTY_ALLOW_LIST : options.webhooks,
    );
    if (refused.length === 0) {
      if (options.consistency === false) return { ok: true, policy: result.data, warnings: [] };
      const checked = policyConsistency(
        result.data,
        options.fleetSize === undefined ? {} : { fleetSize: options.fleetSize },
      );
      const issue = ({ path, message, reason }: ConsistencyIssue): PolicyIssue => ({
        ...locate(path),
        path: jsonPointer(path),
        message,
        ...(reason === undefined ? {} : { reason }),
      });
      if (checked.errors.length > 0) return { ok: false, errors: checked.errors.map(issue) };
      return { ok: true, policy: result.data, warnings: checked.warnings.map(issue) };
    }
    return {
      ok: false,
      errors: refused.map(({ path, message }) => ({
        ...locate(path),
        path: jsonPointer(path),
        message,
        reason: "input.webhook-destination",
      })),
    };
  }

  const errors: PolicyIssue[] = [];
  for (const issue of result.error.issues) {
    const path = issue.path.filter((p): p is PathKey => typeof p !== "symbol");
    const where = label(data, path);
    if (issue.code === "unrecognized_keys") {
      const known = knownKeys(path);
      for (const key of issue.keys) {
        errors.push({
          ...locate(path, key),
          path: jsonPointer([...path, key]),
          message: `${where}: unknown key "${key}"${didYouMean(key, known)}`,
        });
      }
      continue;
    }
    errors.push({ ...locate(path), path: jsonPointer(path), message: `${where}: ${describeIssue(issue)}` });
  }
  errors.sort((a, b) => a.line - b.line || a.column - b.column);
  return { ok: false, errors };
}

/** Parses and validates policy YAML; throws ValidationError (`where: file:line:col`, all issues in details). */
export function loadPolicy(text: string, file = "<policy>", options: PolicyCheckOptions = {}): Policy {
  const result = validatePolicy(text, file, options);
  if (result.ok) return result.policy;
  const [first] = result.errors;
  const more = result.errors.length > 1 ? ` (and ${result.errors.length - 1} more)` : "";
  throw new ValidationError(`${first?.message ?? "invalid policy"}${more}`, {
    ...(first?.reason === undefined ? {} : { reason: first.reason }),
    where: `${file}:${first?.line ?? 1}:${first?.column ?? 1}`,
    details: { file, issues: result.errors },
  });
}

/** The webhooks whose URL the allow-list refuses, with the path of the URL. */
function webhookIssues(
  policy: Policy,
  allow: WebhookAllowList | null,
): Array<{ path: PathKey[]; message: string }> {
  if (allow === null) return [];
  return policy.notifications.webhooks.flatMap((w, i) => {
    const why = refusedWebhookUrl(w.url, allow);
    return why === null
      ? []
      : [{ path: ["notifications", "webhooks", i, "url"], message: `${w.name}.url ${why}` }];
  });
}

/** Where the first alias is, to point at an alias bomb. */
function firstAliasOffset(doc: Document): number {
  let offset = 0;
  visit(doc, {
    Alias(_key, node) {
      if (isAlias(node)) offset = node.range?.[0] ?? 0;
      return visit.BREAK;
    },
  });
  return offset;
}

/** sha256 (hex) of the canonical JSON of the parsed policy, defaults included: equal policies, equal hash. */
export function policyContentHash(text: string): string {
  // The hash is of the content alone: the destination check does not change what the text means.
  return createHash("sha256")
    .update(canonicalJson(loadPolicy(text, "<policy>", { webhooks: null, consistency: false })))
    .digest("hex");
}

/** JSON with object keys sorted at every level and undefined members left out. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) => {
    if (v === null || typeof v !== "object" || Array.isArray(v)) return v;
    const entries = Object.entries(v as Record<string, unknown>).sort(([a], [b]) =>
      a < b ? -1 : a > b ? 1 : 0,
    );
    return Object.fromEntries(entries);
  });
}

// ---- locating and describing issues ------------------------------------------------------------------

/** The YAML node at `path` (the key node of `key` when given); the nearest existing ancestor otherwise. */
function nodeAt(root: unknown, path: readonly PathKey[], key?: string): Node | undefined {
  let node = root as Node | undefined;
  const steps: PathKey[] = key === undefined ? [...path] : [...path, key];
  for (let i = 0; i < steps.length; i++) {
    const step = steps[i];
    if (isMap(node)) {
      const pair = node.items.find((p) => isScalar(p.key) && String(p.key.value) === String(step));
      if (!pair) return node;
      const isLast = i === steps.length - 1;
      // Point at the key for unknown keys, and when the value is missing (`duration:` with nothing after).
      if ((isLast && key !== undefined) || pair.value === null) return (pair.key as Node | null) ?? node;
      node = pair.value as Node;
    } else if (isSeq(node) && typeof step === "number") {
      const item = node.items[step] as Node | undefined;
      if (!item) return node;
      node = item;
    } else {
      return node;
    }
  }
  return node;
}

/** A name a person recognises: `sat-night.duration`, `rollout.phases[1].wave`, `approvals.required`. */
function label(data: unknown, path: readonly PathKey[]): string {
  let text = "";
  let value: unknown = data;
  for (const step of path) {
    const next =
      value !== null && typeof value === "object" ? (value as Record<PathKey, unknown>)[step] : undefined;
    if (typeof step === "number") {
      const name = next !== null && typeof next === "object" ? (next as { name?: unknown }).name : undefined;
      text = typeof name === "string" && name.trim() !== "" ? name : `${text}[${step}]`;
    } else {
      text = text === "" ? step : `${text}.${step}`;
    }
    value = next;
  }
  return text === "" ? "policy" : text;
}

function describeValue(v: unknown): string {
  if (v === null) return "null";
  if (Array.isArray(v)) return "a list";
  if (typeof v === "object") return "a mapping";
  return JSON.stringify(v);
}

function describeIssue(issue: z.core.$ZodIssue): string {
  // With reportInput, an absent value is reported with input undefined, whatever message the schema has.
  if ((issue.code === "invalid_type" || issue.code === "invalid_union") && issue.input === undefined) {
    return "is required";
  }
  switch (issue.code) {
    case "invalid_type":
      return `expected ${issue.expected === "object" ? "a mapping" : issue.expected === "array" ? "a list" : `a ${issue.expected}`}, got ${describeValue(issue.input)}`;
    case "invalid_value": {
      const values = issue.values.map((v) => String(v));
      const input = issue.input;
      const hint = typeof input === "string" ? didYouMean(input, values) : "";
      return `${describeValue(input)} is not one of ${values.join(", ")}${hint}`;
    }
    case "too_small":
    case "too_big":
      // zod's own wording starts with "Too"; custom messages from the schema are already readable.
      if (!issue.message.startsWith("Too ")) return issue.message;
      if (issue.origin === "array") {
        return issue.code === "too_small"
          ? `needs at least ${issue.minimum} item${Number(issue.minimum) === 1 ? "" : "s"}`
          : `allows at most ${issue.maximum} items`;
      }
      return issue.code === "too_small"
        ? `must be ${issue.inclusive ? "at least" : "more than"} ${issue.minimum}`
        : `must be ${issue.inclusive ? "at most" : "less than"} ${issue.maximum}`;
    default:
      return issue.message;
  }
}

type AnySchema = z.core.$ZodType;

/** The keys the schema allows at `path`, for "did you mean" on unknown keys. */
function knownKeys(path: readonly PathKey[]): string[] {
  let schema: AnySchema | undefined = PolicySchema;
  for (const step of path) {
    schema = schema === undefined ? undefined : unwrap(schema);
    if (schema instanceof z.ZodObject) schema = (schema.shape as Record<string, AnySchema>)[String(step)];
    else if (schema instanceof z.ZodArray) schema = schema.element as AnySchema;
    else return [];
  }
  const obj = schema === undefined ? undefined : unwrap(schema);
  return obj instanceof z.ZodObject ? Object.keys(obj.shape) : [];
}

function unwrap(schema: AnySchema): AnySchema {
  let s = schema;
  while (
    s instanceof z.ZodOptional ||
    s instanceof z.ZodDefault ||
    s instanceof z.ZodPrefault ||
    s instanceof z.ZodNullable
  ) {
    s = s.def.innerType as AnySchema;
  }
  return s;
}
