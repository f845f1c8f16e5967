import { join } from "node:path";
import { buildDeb } from "../localfleet/deb-builder.js";

/** The one package every test-fleet host runs: a stand-in service whose behaviour its version decides. */
export const FLEET_PACKAGE = "fleet-service";

/** How a host's service behaves with a version installed; written into the package as a file. */
export type Behaviour = "healthy" | "bad-health" | "bad-metrics";

export interface FleetPackages {
  package: string;
  baseVersion: string;
  /** Paths of the .deb files. */
  base: string;
  good: string;
  badHealth: string;
  badMetrics: string;
  versions: { base: string; good: string; badHealth: string; badMetrics: string };
}

/**
 * Versions chosen so that base < good < bad-metrics < bad-health in dpkg's order: a change to the good
 * version targets every host, and each bad one is an upgrade from the good one too.
 */
export const FLEET_VERSIONS = {
  base: "1.0.0-1",
  good: "1.1.0-1",
  badMetrics: "1.2.0-1",
  badHealth: "1.3.0-1",
} as const;

/** Inside a host's root: the installed behaviour, read by the host's service on every request. */
export const BEHAVIOUR_FILE = `/usr/share/${FLEET_PACKAGE}/behaviour`;
/** Inside a host's root: one line per maintainer-script run, so tests count real installs. */
export const INSTALL_LOG = `/var/log/${FLEET_PACKAGE}.installs`;

/** Builds the four versions of the fleet's package into `outDir` (reused when already built). */
export async function buildFleetPackages(outDir: string): Promise<FleetPackages> {
  const build = (version: string, behaviour: Behaviour) =>
    buildDeb(
      {
        name: FLEET_PACKAGE,
        version,
        description: `autopatch test-fleet service (${behaviour})`,
        files: {
          [BEHAVIOUR_FILE]: `${behaviour}\n`,
          [`/usr/share/${FLEET_PACKAGE}/VERSION`]: `${version}\n`,
        },
        // $1 is "configure"; $2 the version configured before (empty on a first install). The date makes
        // every line unique, so a test can tell two installs of one version apart.
        postinst: [
          `mkdir -p "$DPKG_ROOT/var/log"`,
          `echo "postinst $1 ${version} from=\${2:-none} at=$(date +%s%N)" >> "$DPKG_ROOT${INSTALL_LOG}"`,
        ].join("\n"),
      },
      outDir,
    );
  const [base, good, badHealth, badMetrics] = await Promise.all([
    build(FLEET_VERSIONS.base, "healthy"),
    build(FLEET_VERSIONS.good, "healthy"),
    build(FLEET_VERSIONS.badHealth, "bad-health"),
    build(FLEET_VERSIONS.badMetrics, "bad-metrics"),
  ]);
  return {
    package: FLEET_PACKAGE,
    baseVersion: FLEET_VERSIONS.base,
    base,
    good,
    badHealth,
    badMetrics,
    versions: { ...FLEET_VERSIONS },
  };
}

/** The install log's path in a host's root. */
export function installLogPath(root: string): string {
  return join(root, INSTALL_LOG);
}
