import { join } from "node:path";
import { buildDeb } from "../../src/localfleet/deb-builder.js";
import { BEHAVIOUR_FILE, type Behaviour, FLEET_PACKAGE, INSTALL_LOG } from "../../src/testfleet/packages.js";

/**
 * More versions of the test fleet's package, built as the fleet builds its own (the same behaviour
 * file and install log), for scenarios that need a new version per change or a slow install: the
 * postinst may sleep before it logs, so a test can act while dpkg is really mid-install.
 */
export async function fleetDeb(
  dir: string,
  version: string,
  options: { behaviour?: Behaviour; postinstSleepS?: number } = {},
): Promise<string> {
  const behaviour = options.behaviour ?? "healthy";
  return buildDeb(
    {
      name: FLEET_PACKAGE,
      version,
      description: `autopatch scenario build (${behaviour})`,
      files: {
        [BEHAVIOUR_FILE]: `${behaviour}\n`,
        [`/usr/share/${FLEET_PACKAGE}/VERSION`]: `${version}\n`,
      },
      postinst: [
        ...(options.postinstSleepS ? [`sleep ${options.postinstSleepS}`] : []),
        `mkdir -p "$DPKG_ROOT/var/log"`,
        `echo "postinst $1 ${version} from=\${2:-none} at=$(date +%s%N)" >> "$DPKG_ROOT${INSTALL_LOG}"`,
      ].join("\n"),
    },
    join(dir, "scenario-debs"),
  );
}
