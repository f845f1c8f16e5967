import type { ServiceContext } from "../service/context.js";
import { type PassResult, WorkRunner } from "./runner.js";
import type { WorkKind } from "./work-kind.js";

/**
 * Does the owed work of these kinds now, in the caller's process: an import calls it right after its
 * commit, so its findings are current when it returns, with or without a server. Returns null when
 * the context holds owed work for the work loop (`holdWork`). What this leaves undone (a failure, a
 * crash) stays owed and is done by a server's work loop.
 */
export async function drainOwedWork(
  ctx: ServiceContext,
  kinds: readonly WorkKind[],
): Promise<PassResult | null> {
  if (ctx.config.holdWork === true) return null;
  return new WorkRunner(ctx, kinds).drain();
}
