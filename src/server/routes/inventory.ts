import type { FastifyInstance } from "fastify";
import type { ZodTypeProvider } from "fastify-type-provider-zod";
import { z } from "zod";
import { placementSchema } from "../../inventory/assets.js";
import { importInventory } from "../../inventory/import.js";
import { INVENTORY_FORMATS } from "../../inventory/importers/index.js";
import type { ServiceContext } from "../../service/context.js";
import { actorOf } from "../auth.js";

export async function inventoryRoutes(app: FastifyInstance, ctx: ServiceContext): Promise<void> {
  const r = app.withTypeProvider<ZodTypeProvider>();
  r.post(
    "/api/v1/inventory/import",
    {
      config: { access: "operate" },
      schema: {
        summary: "Import a dpkg status file, CycloneDX or SPDX JSON as an asset's inventory (all or nothing)",
        body: z.object({
          asset: z.string().min(1),
          content: z.string(),
          format: z.enum(INVENTORY_FORMATS).optional(),
          file: z.string().max(1000).optional(),
          ecosystem: z.string().max(100).optional(),
          distro: z.string().max(100).optional(),
          placement: placementSchema.optional(),
          allowEmpty: z
            .boolean()
            .optional()
            .meta({ description: "Let a file with no installed packages empty an asset that has some." }),
        }),
      },
    },
    async (request) => importInventory(ctx, actorOf(request), request.body),
  );
}
