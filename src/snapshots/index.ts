import { dpkgSnapshotProvider } from "./dpkg/provider.js";
import { registerSnapshotProvider } from "./registry.js";

/** Every snapshot provider this build knows; importing this module registers them. */
registerSnapshotProvider(dpkgSnapshotProvider);

export { registeredSnapshotProviders, snapshotProviderFor } from "./registry.js";
