import { AppError } from "../domain/errors.js";
import type { WorkKind } from "./work-kind.js";

/** The work kinds a runner knows, by name; each kind is registered once. */
export class WorkRegistry {
  readonly #kinds = new Map<string, WorkKind>();

  constructor(kinds: Iterable<WorkKind> = []) {
    for (const kind of kinds) this.register(kind);
  }

  register(kind: WorkKind): this {
    if (this.#kinds.has(kind.name)) {
      // A programming error, caught when the server starts.
      throw new AppError("internal", `work kind "${kind.name}" is registered twice`, { where: kind.name });
    }
    if (!Number.isInteger(kind.batch) || kind.batch < 1 || !(kind.leaseMs > 0)) {
      throw new AppError(
        "internal",
        `work kind "${kind.name}" needs a batch of at least 1 and a positive lease`,
        {
          where: kind.name,
        },
      );
    }
    this.#kinds.set(kind.name, kind);
    return this;
  }

  get(name: string): WorkKind | undefined {
    return this.#kinds.get(name);
  }

  get kinds(): readonly WorkKind[] {
    return [...this.#kinds.values()];
  }
}
