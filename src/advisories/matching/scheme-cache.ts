/** The version scheme of each ecosystem, looked up once, with its validity answers remembered. */
import { AppError } from "../../domain/errors.js";
import { schemeForEcosystem } from "../../ecosystems/registry.js";
import type { VersionScheme } from "../../ecosystems/scheme.js";

/** Beyond this many remembered answers the cache starts again, so memory stays bounded on huge inputs. */
const MEMO_LIMIT = 200_000;

/**
 * The same scheme with `isValid` remembered: the range evaluator checks every event version on every
 * call, and matching asks about the same advisory versions for every package that shares a name.
 */
export function memoizedScheme(scheme: VersionScheme, limit = MEMO_LIMIT): VersionScheme {
  const valid = new Map<string, boolean>();
  return {
    id: scheme.id,
    isValid(version) {
      let known = valid.get(version);
      if (known === undefined) {
        known = scheme.isValid(version);
        if (valid.size >= limit) valid.clear();
        valid.set(version, known);
      }
      return known;
    },
    compare: (a, b) => scheme.compare(a, b),
  };
}

const byBase = new Map<string, VersionScheme | null>();

/** The memoized scheme of a canonical OSV base name, or null when none is registered for it. */
export function schemeForBase(base: string): VersionScheme | null {
  const hit = byBase.get(base);
  if (hit !== undefined) return hit;
  let scheme: VersionScheme | null;
  try {
    scheme = memoizedScheme(schemeForEcosystem(base));
  } catch (err) {
    if (!(err instanceof AppError) || err.code !== "unsupported") throw err;
    scheme = null;
  }
  // Bases come from input, so only a bounded number of them is remembered.
  if (byBase.size < 1024) byBase.set(base, scheme);
  return scheme;
}
