import type { Asset } from "../../src/domain/inventory.js";
import { type Actor, type Role, SYSTEM_ACTOR } from "../../src/domain/roles.js";
import { createAsset } from "../../src/inventory/assets.js";
import type { ServiceContext } from "../../src/service/context.js";

/**
 * A person signed in with a token. `principal` is who they are (separation of duties compares it);
 * `tokenName` names the token they used, which audit labels show.
 */
export function userActor(principal: string, role: Role, tokenName = principal): Actor {
  return { kind: "user", id: `token-${tokenName}`, name: tokenName, principal, role, assetId: null };
}

/** A new host asset and its agent as an agent credential authenticates (acting for that asset only). */
export async function agentOfNewHost(
  ctx: ServiceContext,
  name: string,
): Promise<{ asset: Asset; actor: Actor }> {
  const asset = await createAsset(ctx, SYSTEM_ACTOR, name, { kind: "host" });
  return {
    asset,
    actor: { kind: "agent", id: `t-${name}`, name, principal: name, role: null, assetId: asset.id },
  };
}
