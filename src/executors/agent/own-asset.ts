import { AuthError, reasonError } from "../../domain/errors.js";
import type { Actor } from "../../domain/roles.js";

/** An agent credential acts for its own asset only. */
export function ownAssetOf(actor: Actor): string {
  if (actor.kind !== "agent" || !actor.assetId) {
    throw new AuthError("forbidden", "only an agent credential may use the agent protocol");
  }
  return actor.assetId;
}

/** Where the operation id sits in the routes that name one. */
export const OPERATION_WHERE = "/params/id";

export function operationNotFound(id: string) {
  return reasonError("agent.operation-not-found", `no operation ${id.slice(0, 100)}`, {
    where: OPERATION_WHERE,
  });
}

export function notYours(id: string) {
  return reasonError(
    "agent.operation-not-yours",
    `operation ${id.slice(0, 100)} belongs to another asset: an agent acts for its own asset only`,
    { where: OPERATION_WHERE },
  );
}
