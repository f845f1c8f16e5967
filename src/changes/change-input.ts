/** What a person or a script sends to create a change request: one zod schema for the API and the service. */
import { z } from "zod";
import { isAppError, jsonPointer, ValidationError } from "../domain/errors.js";
import { packageNameProblem } from "../ecosystems/package-name.js";
import { schemeForEcosystem } from "../ecosystems/registry.js";
import type { VersionScheme } from "../ecosystems/scheme.js";
import { CHANGE_CLASSES } from "../policy/schema.js";

const text = (what: string, max: number) =>
  z
    .string({ error: (iss) => (iss.input === undefined ? `${what} is required` : `${what} must be text`) })
    .trim()
    .min(1, { error: `${what} must not be empty` })
    .max(max, { error: `${what} is at most ${max} characters` });

const artifactSchema = z.strictObject({
  name: text("the artifact file name", 255),
  sha256: z.string().regex(/^[0-9a-f]{64}$/, { error: "sha256 is 64 lowercase hex digits" }),
});

export const changeInputSchema = z.strictObject({
  ecosystem: text("the ecosystem", 100).optional().meta({
    description:
      "OSV ecosystem of the package (Debian, Ubuntu:22.04, npm, …); Debian when absent. Name and version follow its rules.",
  }),
  package: text("the package name", 253),
  alsoPackages: z.array(text("a package name", 253)).max(100).optional().meta({
    description:
      "Other binary packages of the same source the change patches to the same version (openssh-server with openssh-client); the plan targets assets with any of them below it.",
  }),
  version: text("the target version", 253),
  artifact: artifactSchema
    .optional()
    .meta({ description: "The package file to install, by name and SHA-256." }),
  artifacts: z
    .array(artifactSchema)
    .min(1, { error: "artifacts must not be empty" })
    .max(100)
    .optional()
    .meta({
      description:
        "One uploaded package file per binary the change installs (`package` and `alsoPackages`, each at `version`), installed in one dpkg call; with `artifact`, the files of both.",
    }),
  source: text("the package source", 500).optional().meta({
    description: "Where the package manager gets it, when there is no artifact (e.g. an apt repository).",
  }),
  advisories: z.array(text("an advisory id", 100)).max(1000).optional(),
  ticket: text("the ticket", 200).optional(),
  // Empty means every asset (the plan then targets each one with the package below the version).
  selector: z
    .string({
      error: (iss) =>
        iss.input === undefined ? "the target selector is required" : "the target selector must be text",
    })
    .trim()
    .max(4000, { error: "the target selector is at most 4000 characters" })
    .meta({ description: 'Label selector of the assets to consider; "" means every asset.' }),
  policy: text("the policy", 100)
    .optional()
    .meta({ description: "Policy NAME or NAME@VERSION; the latest version of `default` when absent." }),
  justification: text("the justification", 10_000),
  risk: text("the risk notes", 10_000).optional(),
  rollback: text("the rollback notes", 10_000).optional(),
  emergency: z.boolean().optional(),
  class: z.enum(CHANGE_CLASSES).optional().meta({
    description: "emergency | high | routine; emergency when `emergency` is set, routine otherwise.",
  }),
});
export type ChangeInput = z.input<typeof changeInputSchema>;
export type ParsedChangeInput = z.output<typeof changeInputSchema>;

/** The rollout engine drives dpkg/apt: a change names a Debian package unless it says otherwise. */
export const DEFAULT_CHANGE_ECOSYSTEM = "Debian";

/**
 * The package name and target version as the ecosystem's own tools read them: a change's package and
 * version reach the package manager, so NUL, spaces, commas or shell syntax must never get through.
 */
function validatePackage(ecosystem: string, name: string, version: string): void {
  let scheme: VersionScheme;
  let nameProblem: string | null;
  try {
    scheme = schemeForEcosystem(ecosystem);
    nameProblem = packageNameProblem(ecosystem, name);
  } catch (err) {
    if (isAppError(err) && err.code === "unsupported")
      throw new ValidationError(err.message, { where: "/ecosystem", cause: err });
    throw err;
  }
  if (nameProblem !== null) {
    throw new ValidationError(`${JSON.stringify(name)}: ${nameProblem}`, {
      reason: "change.invalid-package",
      where: "/package",
    });
  }
  if (!scheme.isValid(version)) {
    throw new ValidationError(
      `${JSON.stringify(version)} is not a ${scheme.id} version: ${versionProblem(scheme, version)}`,
      { reason: "change.invalid-version", where: "/version" },
    );
  }
}

/** Another binary the change installs: a name the package manager takes, not the change's own package. */
function validateAlsoPackage(ecosystem: string, name: string, where: string): void {
  const problem = packageNameProblem(ecosystem, name);
  if (problem !== null) {
    throw new ValidationError(`${JSON.stringify(name)}: ${problem}`, {
      reason: "change.invalid-package",
      where,
    });
  }
}

/** The scheme's own reason for refusing a version (its compare throws naming the offending part). */
function versionProblem(scheme: VersionScheme, version: string): string {
  try {
    scheme.compare(version, version);
  } catch (err) {
    if (isAppError(err)) return typeof err.details?.reason === "string" ? err.details.reason : err.message;
  }
  return "the ecosystem's tools refuse it";
}

/** Every package file a change input names, with its JSON pointer; a file named twice counts once. */
export function artifactsOfInput(
  input: ParsedChangeInput,
): Array<{ name: string; sha256: string; where: string }> {
  const all = [
    ...(input.artifact ? [{ ...input.artifact, where: "/artifact" }] : []),
    ...(input.artifacts ?? []).map((a, i) => ({ ...a, where: `/artifacts/${i}` })),
  ];
  return all.filter((a, i) => all.findIndex((b) => b.sha256 === a.sha256) === i);
}

/** Validates a change input; the first problem becomes a ValidationError at its JSON pointer. */
export function parseChangeInput(input: unknown): ParsedChangeInput {
  const result = changeInputSchema.safeParse(input);
  if (result.success) {
    if (result.data.class === "emergency" && result.data.emergency === false) {
      throw new ValidationError("an emergency-class change must have `emergency` set", {
        where: "/emergency",
      });
    }
    const ecosystem = result.data.ecosystem ?? DEFAULT_CHANGE_ECOSYSTEM;
    validatePackage(ecosystem, result.data.package, result.data.version);
    (result.data.alsoPackages ?? []).forEach((name, i) => {
      validateAlsoPackage(ecosystem, name, `/alsoPackages/${i}`);
    });
    return result.data;
  }
  const issue = result.error.issues[0];
  const path = (issue?.path ?? []).filter((p): p is string | number => typeof p !== "symbol");
  const message =
    issue?.code === "unrecognized_keys"
      ? `unknown field "${issue.keys[0] ?? ""}"`
      : (issue?.message ?? "invalid");
  const where =
    issue?.code === "unrecognized_keys" ? jsonPointer([...path, issue.keys[0] ?? ""]) : jsonPointer(path);
  throw new ValidationError(message, { where });
}
