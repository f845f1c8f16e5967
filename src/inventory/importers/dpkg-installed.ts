/**
 * Which dpkg packages are inventory: the one rule the status-file importer and the host agent share.
 * dpkg-query's `${db:Status-Status}` and osv-scalibr count a package as installed by its state word
 * alone: `deinstall reinstreq installed` or `purge ok installed` (marked for removal) still have their
 * files on disk, so they are still exposed; unpacked, half-configured or config-files are not.
 */
export function dpkgStateIsInstalled(state: string): boolean {
  return state === "installed";
}
