/**
 * One interface for every version scheme (deb, rpm, semver, pypi, maven, go). Each scheme lives in its
 * own folder under src/ecosystems/ and is registered once in src/ecosystems/registry.ts.
 * Interface version 1.
 */
export type Ordering = -1 | 0 | 1;

export interface VersionScheme {
  /** Short stable id: "deb", "rpm", "semver", "pypi", "maven", "go". */
  readonly id: string;
  /** True when the ecosystem's own tool accepts the version. */
  isValid(version: string): boolean;
  /**
   * Orders two versions exactly as the ecosystem's own tool does.
   * Throws ValidationError (naming the scheme and the offending part) for an invalid version.
   */
  compare(a: string, b: string): Ordering;
}
