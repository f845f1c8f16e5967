import type { ArtifactRef, Snapshot } from "../rollout/operation.js";

export const SNAPSHOT_INTERFACE_VERSION = 1;

/** The host a provider works on: its package root and a folder it may keep copies in. */
export interface SnapshotHost {
  /** "/" on a real host; a private dpkg root on a test-fleet host. */
  root: string;
  /** A folder of the agent's state dir for pre-patch copies (mode 0700). */
  keepDir: string;
}

/**
 * Records what an install is about to change and brings it back. Runs on the host (inside the agent,
 * later over SSH). `take` fails, and the asset with it, before anything is installed when it cannot
 * keep a way back (invariant 6).
 */
export interface SnapshotProvider {
  readonly kind: string;
  readonly interfaceVersion: typeof SNAPSHOT_INTERFACE_VERSION;
  /** Pre-patch versions of every package installing `artifactPath` will change, and a copy of each. */
  take(
    host: SnapshotHost,
    request: {
      artifactPath: string;
      /** Every file the install takes in one dpkg call (artifactPath among them); [artifactPath] when absent. */
      artifactPaths?: readonly string[];
      available: readonly ArtifactRef[];
      fetch: (ref: ArtifactRef) => Promise<string>;
    },
  ): Promise<Snapshot>;
  /** Returns every package of the snapshot to its recorded version (removes those not installed before). */
  restore(
    host: SnapshotHost,
    snapshot: Snapshot,
    fetch: (ref: ArtifactRef) => Promise<string>,
  ): Promise<void>;
}
