/**
 * One interface for every version scheme (deb, rpm, semver, pypi, maven, go). Each scheme lives in its
 * own folder under src/ecosystems/ and is registered once in src/ecosystems/registry.ts.
 * Schemes with a well-kept npm library use it (semver, @renovatebot/pep440); deb, rpm, maven and go are
 * hand-written because none reproduces dpkg's, rpm's, ComparableVersion's or Go's ordering exactly.
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
