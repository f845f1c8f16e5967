import { ValidationError } from "../domain/errors.js";
import { EXECUTOR_INTERFACE_VERSION, type Executor } from "./executor.js";

const EXECUTORS = new Map<string, Executor>();

/** Registers an executor kind; each kind's module calls this once (see src/executors/index.ts). */
export function registerExecutor(executor: Executor): void {
  if (executor.interfaceVersion !== EXECUTOR_INTERFACE_VERSION) {
    throw new Error(
      `executor ${executor.kind} implements interface ${executor.interfaceVersion}, not ${EXECUTOR_INTERFACE_VERSION}`,
    );
  }
  EXECUTORS.set(executor.kind, executor);
}

export function executorFor(kind: string): Executor {
  const executor = EXECUTORS.get(kind);
  if (!executor) {
    throw new ValidationError(`unknown executor "${kind}": use ${[...EXECUTORS.keys()].join(", ")}`, {
      where: "executor",
    });
  }
  return executor;
}

export function registeredExecutors(): Executor[] {
  return [...EXECUTORS.values()];
}
