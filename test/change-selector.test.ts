import type { FastifyInstance } from "fastify";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createApiToken } from "../src/auth/tokens.js";
import { getChangePlan } from "../src/changes/queries.js";
import { createChange } from "../src/changes/service.js";
import { SYSTEM_ACTOR } from "../src/domain/roles.js";
import { buildApp } from "../src/server/app.js";
import type { ServiceContext } from "../src/service/context.js";
import { userActor } from "./helpers/actors.js";
import { installed } from "./helpers/assets.js";
import { contextFor, DIALECTS, freshStore } from "./helpers/stores.js";

const OPS = userActor("ops", "operator");
const base = { package: "openssl", version: "3.0.15-1~deb12u1", justification: "CVE fixes" };

describe.each(DIALECTS)("an empty change selector on %s", (dialect) => {
  let store: Awaited<ReturnType<typeof freshStore>>;
  let ctx: ServiceContext;
  let app: FastifyInstance;
  let token: string;

  beforeAll(async () => {
    store = await freshStore(dialect);
    ctx = contextFor(store, () => new Date("2026-11-20T10:00:00Z"));
    await installed(ctx, "web-1", [["openssl", "3.0.11-1~deb12u2"]], { group: "web", region: "eu" });
    await installed(ctx, "db-1", [["openssl", "3.0.11-1~deb12u2"]], { group: "db", region: "us" });
    await installed(ctx, "new-1", [["openssl", "3.0.15-1~deb12u1"]], { group: "web", region: "us" });
    await installed(ctx, "bare-1", [["curl", "7.88.1-10+deb12u4"]], { group: "db", region: "eu" });
    token = (await createApiToken(ctx, SYSTEM_ACTOR, { name: "api-ops", role: "operator" })).token;
    app = await buildApp(ctx);
  });
  afterAll(async () => {
    await app?.close();
    await store?.dispose();
  });

  const post = (payload: Record<string, unknown>) =>
    app.inject({
      method: "POST",
      url: "/api/v1/changes",
      headers: { authorization: `Bearer ${token}` },
      payload,
    });

  it('takes selector "" in change from-findings as every asset too', async () => {
    const res = await app.inject({
      method: "POST",
      url: "/api/v1/changes/from-findings",
      headers: { authorization: `Bearer ${token}` },
      payload: { class: "high", selector: "" },
    });
    expect(res.statusCode, res.body).toBe(201);
  });

  it('takes selector "" in the API as every asset: targets those below the version, skips the rest', async () => {
    const res = await post({ ...base, selector: "" });
    expect(res.statusCode, res.body).toBe(201);
    const created = res.json() as { id: string; selector: string };
    expect(created.selector).toBe("");
    const plan = await getChangePlan(ctx, created.id);
    expect(plan.targets.map((t) => t.name).sort()).toEqual(["db-1", "web-1"]);
    expect(plan.skipped.map((s) => [s.name, s.reason])).toEqual([
      ["bare-1", "not-installed"],
      ["new-1", "up-to-date"],
    ]);
  });

  it("takes a blank selector in the service too, and still refuses one that matches no asset", async () => {
    const blank = await createChange(ctx, OPS, { ...base, selector: "  " });
    expect(blank.selector).toBe("");
    const none = await post({ ...base, selector: "group=nothing-here" });
    expect(none.statusCode).toBe(400);
    expect(none.json()).toMatchObject({ error: { code: "validation", where: "/body/selector" } });
    const missing = await post({ ...base });
    expect(missing.statusCode).toBe(400);
    expect(missing.json()).toMatchObject({ error: { code: "validation", where: "/body/selector" } });
  });
});
