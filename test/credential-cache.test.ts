/**
 * Remembered credentials (src/auth/credential-cache.ts) over both stores: a credential authenticated a
 * moment ago stops working the moment this replica revokes it or disables its principal, and a
 * revocation another replica wrote (straight to the store) is heard within the TTL.
 */
import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CREDENTIAL_TTL_MS } from "../src/auth/credential-cache.js";
import { setPrincipalDisabled } from "../src/auth/principals.js";
import { authenticate, createApiToken, revokeApiToken } from "../src/auth/tokens.js";
import { AuthError } from "../src/domain/errors.js";
import { SYSTEM_ACTOR } from "../src/domain/roles.js";
import type { ServiceContext } from "../src/service/context.js";
import { contextFor, DIALECTS, freshStore } from "./helpers/stores.js";

async function refused(ctx: ServiceContext, token: string): Promise<boolean> {
  try {
    await authenticate(ctx, token);
    return false;
  } catch (err) {
    if (err instanceof AuthError) return true;
    throw err;
  }
}

describe.each(DIALECTS)("remembered credentials on %s", (dialect) => {
  let store: Awaited<ReturnType<typeof freshStore>>;
  let ctx: ServiceContext;
  beforeAll(async () => {
    store = await freshStore(dialect);
    ctx = contextFor(store);
  });
  afterAll(async () => {
    await store?.dispose();
  });

  it("refuses a revoked token at once, though it authenticated a moment before", async () => {
    const created = await createApiToken(ctx, SYSTEM_ACTOR, { name: "ops-1", role: "operator" });
    expect((await authenticate(ctx, created.token)).principal).toBe("ops-1");
    expect((await authenticate(ctx, created.token)).principal).toBe("ops-1");
    await revokeApiToken(ctx, SYSTEM_ACTOR, created.id);
    expect(await refused(ctx, created.token)).toBe(true);
  });

  it("refuses the tokens of a disabled principal at once, and takes them again when enabled", async () => {
    const created = await createApiToken(ctx, SYSTEM_ACTOR, { name: "ops-2", role: "operator" });
    await createApiToken(ctx, SYSTEM_ACTOR, { name: "admin-2", role: "admin" });
    expect(await refused(ctx, created.token)).toBe(false);
    await setPrincipalDisabled(ctx, SYSTEM_ACTOR, "ops-2", true);
    expect(await refused(ctx, created.token)).toBe(true);
    await setPrincipalDisabled(ctx, SYSTEM_ACTOR, "ops-2", false);
    expect(await refused(ctx, created.token)).toBe(false);
  });

  it("hears a revocation written by another replica within the TTL", async () => {
    const created = await createApiToken(ctx, SYSTEM_ACTOR, { name: "ops-3", role: "operator" });
    expect(await refused(ctx, created.token)).toBe(false);
    // Another replica's revocation: this one's memory is not told.
    await store.write((trx) =>
      trx
        .updateTable("api_tokens")
        .set({ revoked_at: new Date().toISOString() })
        .where("id", "=", created.id)
        .execute(),
    );
    await sleep(CREDENTIAL_TTL_MS + 50);
    expect(await refused(ctx, created.token)).toBe(true);
  });
});
