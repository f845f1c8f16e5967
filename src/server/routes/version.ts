import type { FastifyInstance } from "fastify";
import type { ZodTypeProvider } from "fastify-type-provider-zod";
import { sql } from "kysely";
import { z } from "zod";
import { PRODUCT_VERSION } from "../../domain/product-version.js";
import type { ServiceContext } from "../../service/context.js";
import { MIGRATIONS } from "../../store/migrations/index.js";

export const versionSchema = z.object({
  version: z.string().describe("the server's autopatch version"),
  schema: z.object({
    current: z.string().nullable().describe("the newest migration applied to the store"),
    latest: z.string().nullable().describe("the newest migration this server knows"),
  }),
  dialect: z.enum(["sqlite", "postgres"]),
});
export type ServerVersion = z.infer<typeof versionSchema>;

/** The server's version and its store's schema version, for `autopatch version` (any valid token). */
export async function versionRoutes(app: FastifyInstance, ctx: ServiceContext): Promise<void> {
  const r = app.withTypeProvider<ZodTypeProvider>();
  r.get(
    "/api/v1/version",
    {
      config: { access: "read" },
      schema: {
        summary: "The server's version and the schema version of its store",
        response: { 200: versionSchema },
      },
    },
    async () => {
      const rows = await sql<{
        name: string;
      }>`select name from kysely_migration order by name desc limit 1`.execute(ctx.store.db);
      return {
        version: PRODUCT_VERSION,
        schema: {
          current: rows.rows[0]?.name ?? null,
          latest: Object.keys(MIGRATIONS).sort().at(-1) ?? null,
        },
        dialect: ctx.store.dialect,
      };
    },
  );
}
