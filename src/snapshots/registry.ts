import { ValidationError } from "../domain/errors.js";
import { SNAPSHOT_INTERFACE_VERSION, type SnapshotProvider } from "./provider.js";

const PROVIDERS = new Map<string, SnapshotProvider>();

export function registerSnapshotProvider(provider: SnapshotProvider): void {
  if (provider.interfaceVersion !== SNAPSHOT_INTERFACE_VERSION) {
    throw new Error(
      `snapshot provider ${provider.kind} implements interface ${provider.interfaceVersion}, not ${SNAPSHOT_INTERFACE_VERSION}`,
    );
  }
  PROVIDERS.set(provider.kind, provider);
}

export function snapshotProviderFor(kind: string): SnapshotProvider {
  const provider = PROVIDERS.get(kind);
  if (!provider) {
    throw new ValidationError(
      `unknown snapshot provider "${kind}": use ${[...PROVIDERS.keys()].join(", ")}`,
      {
        where: "snapshotProvider",
      },
    );
  }
  return provider;
}

export function registeredSnapshotProviders(): SnapshotProvider[] {
  return [...PROVIDERS.values()];
}
