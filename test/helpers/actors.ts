import type { Actor, Role } from "../../src/domain/roles.js";

/**
 * A person signed in with a token. `principal` is who they are (separation of duties compares it);
 * `tokenName` names the token they used, which audit labels show.
 */
export function userActor(principal: string, role: Role, tokenName = principal): Actor {
  return { kind: "user", id: `token-${tokenName}`, name: tokenName, principal, role, assetId: null };
}
