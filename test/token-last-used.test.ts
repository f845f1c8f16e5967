import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { flushTokenUses, TOKEN_USE_FLUSH_MS } from "../src/auth/last-used.js";
import { authenticate, bootstrapAdminToken, listApiTokens } from "../src/auth/tokens.js";
import type { ServiceContext } from "../src/service/context.js";
import { contextFor, DIALECTS, freshStore, type TestStore } from "./helpers/stores.js";

describe.each(DIALECTS)("a token's last-used time on %s", (dialect) => {
  let store: TestStore;
  let ctx: ServiceContext;
  let clock = Date.parse("2026-12-01T10:00:00.000Z");

  beforeAll(async () => {
    store = await freshStore(dialect);
    ctx = contextFor(store, () => new Date(clock));
  });
  afterAll(async () => {
    await store.dispose();
  });

  const lastUsed = async () => (await listApiTokens(ctx)).map((t) => t.lastUsedAt);

  it("is written in a batch shortly after the use, not by the request, and at most once a minute", async () => {
    const admin = (await bootstrapAdminToken(ctx))?.token ?? "";
    await authenticate(ctx, admin);
    // The request did not wait for the write.
    expect(await lastUsed()).toEqual([null]);
    await sleep(TOKEN_USE_FLUSH_MS + 500);
    expect(await lastUsed()).toEqual(["2026-12-01T10:00:00.000Z"]);

    // Within the minute's resolution, a use records nothing new.
    clock += 30_000;
    await authenticate(ctx, admin);
    await flushTokenUses(store);
    expect(await lastUsed()).toEqual(["2026-12-01T10:00:00.000Z"]);

    // After it, a clean shutdown's flush writes what is pending without waiting for the batch.
    clock += 60_000;
    await authenticate(ctx, admin);
    await flushTokenUses(store);
    expect(await lastUsed()).toEqual(["2026-12-01T10:01:30.000Z"]);
  });
});
