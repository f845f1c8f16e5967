/**
 * Remembered credentials (src/auth/credential-cache.ts) over both stores: a credential authenticated a
 * moment ago stops working the moment this replica revokes it or disables its principal, a revocation,
 * disable or asset deletion another replica wrote (straight to the store) is heard within the TTL, and
 * a credential is trusted past the TTL while nothing of the kind happened.
 */
import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CREDENTIAL_TTL_MS } from "../src/auth/credential-cache.js";
import { enrollAgent } from "../src/auth/enrollment.js";
import { createEnrollmentToken } from "../src/auth/enrollment-tokens.js";
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

  it("hears another replica's disable and asset deletion within the TTL, and trusts the rest past it", async () => {
    const disabled = await createApiToken(ctx, SYSTEM_ACTOR, { name: "ops-4", role: "operator" });
    const kept = await createApiToken(ctx, SYSTEM_ACTOR, { name: "ops-5", role: "operator" });
    const enrollment = await createEnrollmentToken(ctx, SYSTEM_ACTOR);
    const agent = await enrollAgent(ctx, enrollment.token, { name: "web-cache-1" });
    for (const token of [disabled.token, kept.token, agent.credential])
      expect(await refused(ctx, token)).toBe(false);
    // Written straight to the store, as another replica would: a column no answer depends on first,
    // then the principal disabled and the asset deleted (its agent credential goes with it).
    await store.write((trx) =>
      trx.updateTable("api_tokens").set({ name: "ops-5-renamed" }).where("id", "=", kept.id).execute(),
    );
    await sleep(CREDENTIAL_TTL_MS + 50);
    // Nothing moved the credential version: the remembered answer stands (with the name it was read with).
    expect((await authenticate(ctx, kept.token)).name).toBe("ops-5");
    await store.write(async (trx) => {
      await trx
        .updateTable("principals")
        .set({ disabled_at: new Date().toISOString() })
        .where("name", "=", "ops-4")
        .execute();
      await trx.deleteFrom("assets").where("id", "=", agent.assetId).execute();
    });
    await sleep(CREDENTIAL_TTL_MS + 50);
    expect(await refused(ctx, disabled.token)).toBe(true);
    expect(await refused(ctx, agent.credential)).toBe(true);
    // Every credential was looked up again: this one with its name as stored now.
    expect((await authenticate(ctx, kept.token)).name).toBe("ops-5-renamed");
  });
});
