/**
 * SARIF 2.1.0 (OASIS) for an offline scan: one rule per vulnerability, one result per finding, the
 * inventory file as the artifact. Code-scanning tools read `security-severity` from a rule's
 * properties (a CVSS score as a string), as GitHub documents for SARIF uploads.
 */
import { isAbsolute, relative, resolve, sep } from "node:path";
import { pathToFileURL } from "node:url";
import type * as Sarif from "sarif";
import type { ChangeClass } from "../../policy/schema.js";
import type { Finding } from "./findings.js";

// The shapes below narrow the SARIF 2.1.0 types of @types/sarif to what this report always fills in,
// so the compiler checks them against the standard's and callers need no optional chaining.
export type SarifLevel = NonNullable<Sarif.Result["level"]>;

export interface SarifRule extends Sarif.ReportingDescriptor {
  id: string;
  shortDescription: { text: string };
  fullDescription: { text: string };
  helpUri: string;
  defaultConfiguration: { level: SarifLevel };
  properties: { "security-severity"?: string; tags: string[]; aliases: string[] };
}

export interface SarifArtifactLocation extends Sarif.ArtifactLocation {
  uri: string;
}

export interface SarifResult extends Sarif.Result {
  ruleId: string;
  ruleIndex: number;
  level: SarifLevel;
  message: { text: string };
  locations: Array<{
    physicalLocation: { artifactLocation: SarifArtifactLocation & { index: number } };
    logicalLocations: Array<{ name: string; fullyQualifiedName: string; kind: string }>;
  }>;
  partialFingerprints: { "autopatch/package-vulnerability/v1": string };
  properties: {
    class: ChangeClass;
    ecosystem: string;
    package: string;
    version: string;
    fixed: string | null;
    severity: number | null;
    knownExploited: boolean;
  };
}

export interface SarifRun extends Sarif.Run {
  tool: { driver: { name: string; version: string; rules: SarifRule[] } };
  artifacts: Array<{ location: SarifArtifactLocation }>;
  results: SarifResult[];
}

export interface SarifLog extends Sarif.Log {
  $schema: string;
  version: "2.1.0";
  runs: SarifRun[];
}

/** The `uriBaseId` of artifact paths given relative to `--base` (the name code-scanning tools expect). */
export const SOURCE_ROOT = "SRCROOT";

const SCHEMA = "https://docs.oasis-open.org/sarif/sarif/v2.1.0/os/schemas/sarif-schema-2.1.0.json";

/** Emergency and high findings fail a build (error); routine ones are warnings. */
export function sarifLevel(cls: ChangeClass): SarifLevel {
  return cls === "routine" ? "warning" : "error";
}

const relativeUri = (path: string) => path.split(sep).join("/").split("/").map(encodeURIComponent).join("/");

/**
 * Without a base, a relative path stays relative (forward slashes, percent-encoded) and an absolute one
 * becomes file://. With a base directory, a path inside it is made relative to it (and marked with
 * `uriBaseId`, the base given in `originalUriBaseIds`), so a report made in CI points into the
 * repository wherever it was checked out; a path outside the base stays absolute.
 */
export function artifactLocation(path: string, base?: string): SarifArtifactLocation {
  if (base === undefined) return { uri: isAbsolute(path) ? pathToFileURL(path).href : relativeUri(path) };
  const inside = relative(resolve(base), resolve(path));
  if (inside === "" || inside.startsWith("..") || isAbsolute(inside))
    return { uri: pathToFileURL(resolve(path)).href };
  return { uri: relativeUri(inside), uriBaseId: SOURCE_ROOT };
}

/** The artifact's URI alone (see artifactLocation). */
export function artifactUri(path: string, base?: string): string {
  return artifactLocation(path, base).uri;
}

function describe(f: Finding): string {
  const fix = f.fixed === null ? "no fixed version is known yet" : `fixed in ${f.fixed}`;
  const others = f.vulnerabilities.filter((id) => id !== f.vulnId);
  const aka = others.length > 0 ? ` (${others.join(", ")})` : "";
  return `${f.package.name} ${f.package.version} (${f.package.ecosystem}) is affected by ${f.vulnId}${aka}; ${fix}.`;
}

export interface SarifOptions {
  /** The inventory file as given on the command line. */
  inventoryPath: string;
  toolName: string;
  toolVersion: string;
  /** Make the artifact path relative to this directory (`--base`). */
  base?: string;
}

export function toSarif(findings: readonly Finding[], options: SarifOptions): SarifLog {
  const location = artifactLocation(options.inventoryPath, options.base);
  const rules: SarifRule[] = [];
  const ruleIndex = new Map<string, number>();
  for (const f of findings) {
    const known = ruleIndex.get(f.vulnId);
    if (known !== undefined) {
      const rule = rules[known];
      // A rule takes the most urgent level of its findings (severity can differ per package).
      if (rule && sarifLevel(f.class) === "error") rule.defaultConfiguration.level = "error";
      continue;
    }
    ruleIndex.set(f.vulnId, rules.length);
    const advisory = f.advisoryIds[0] ?? f.vulnId;
    rules.push({
      id: f.vulnId,
      shortDescription: { text: `Vulnerability ${f.vulnId}` },
      fullDescription: {
        text: `Reported by ${f.advisoryIds.join(", ")}; ids: ${f.vulnerabilities.join(", ")}.`,
      },
      helpUri: `https://osv.dev/vulnerability/${encodeURIComponent(advisory)}`,
      defaultConfiguration: { level: sarifLevel(f.class) },
      properties: {
        ...(f.severity === null ? {} : { "security-severity": f.severity.toFixed(1) }),
        tags: ["security", "vulnerability"],
        aliases: f.vulnerabilities,
      },
    });
  }
  const results = findings.map((f): SarifResult => {
    const purlish = `${f.package.ecosystem}/${f.package.name}@${f.package.version}`;
    return {
      ruleId: f.vulnId,
      ruleIndex: ruleIndex.get(f.vulnId) ?? 0,
      level: sarifLevel(f.class),
      message: { text: describe(f) },
      locations: [
        {
          physicalLocation: { artifactLocation: { ...location, index: 0 } },
          logicalLocations: [{ name: f.package.name, fullyQualifiedName: purlish, kind: "module" }],
        },
      ],
      partialFingerprints: { "autopatch/package-vulnerability/v1": `${purlish}|${f.vulnId}` },
      properties: {
        class: f.class,
        ecosystem: f.package.ecosystem,
        package: f.package.name,
        version: f.package.version,
        fixed: f.fixed,
        severity: f.severity,
        knownExploited: f.knownExploited,
      },
    };
  });
  return {
    $schema: SCHEMA,
    version: "2.1.0",
    runs: [
      {
        tool: { driver: { name: options.toolName, version: options.toolVersion, rules } },
        artifacts: [{ location }],
        results,
        ...(location.uriBaseId === undefined || options.base === undefined
          ? {}
          : {
              originalUriBaseIds: {
                [SOURCE_ROOT]: { uri: `${pathToFileURL(resolve(options.base)).href.replace(/\/?$/, "/")}` },
              },
            }),
      },
    ],
  };
}
