import type { FastifyInstance } from "fastify";
import type { ZodTypeProvider } from "fastify-type-provider-zod";
import { z } from "zod";
import { ARTIFACT_MEDIA_TYPES, artifactMetaSchema } from "../../artifacts/artifact.js";
import {
  assertMayRead,
  getArtifact,
  listArtifacts,
  readArtifact,
  storeArtifact,
} from "../../artifacts/store.js";
import type { AuditSigningKey } from "../../audit/signing-key.js";
import { reasonError } from "../../domain/errors.js";
import type { ServiceContext } from "../../service/context.js";
import { checkAgentProtocol } from "../agent-protocol.js";
import { actorOf } from "../auth.js";
import { pageOf, pageQueryFields, pageSchema } from "../lists/paging.js";

const shaParams = z.object({ sha256: z.string().min(1).max(100) });

/**
 * The content-addressed artifact store: operators upload .deb files (the raw bytes as the body), hosts
 * download what their operations name. Uploads are signed with the server's key (`key`); a server
 * without one refuses them.
 */
export async function artifactRoutes(
  app: FastifyInstance,
  ctx: ServiceContext,
  key: AuditSigningKey | null,
): Promise<void> {
  // The raw bytes, buffered up to the route's body limit (body-limits.ts); no other route reads them.
  app.addContentTypeParser(ARTIFACT_MEDIA_TYPES, { parseAs: "buffer" }, (_request, body, done) => {
    done(null, body);
  });
  const r = app.withTypeProvider<ZodTypeProvider>();
  r.post(
    "/api/v1/artifacts",
    {
      config: { access: "operate" },
      schema: {
        summary: "Upload a .deb (body: its bytes, content-type application/vnd.debian.binary-package)",
        response: { 200: artifactMetaSchema, 201: artifactMetaSchema },
      },
    },
    async (request, reply) => {
      if (!Buffer.isBuffer(request.body)) {
        throw reasonError(
          "request.unsupported-media-type",
          `send the .deb's bytes with content-type ${ARTIFACT_MEDIA_TYPES.join(" or ")}`,
          { where: "/headers/content-type" },
        );
      }
      const { artifact, created } = await storeArtifact(ctx, actorOf(request), key, request.body);
      return reply.code(created ? 201 : 200).send(artifact);
    },
  );
  r.get(
    "/api/v1/artifacts",
    {
      config: { access: "read" },
      schema: {
        summary: "List stored artifacts, newest first",
        querystring: z.object({
          package: z.string().min(1).max(200).optional(),
          version: z.string().min(1).max(200).optional(),
          ...pageQueryFields,
        }),
        response: { 200: pageSchema(artifactMetaSchema) },
      },
    },
    async (request) => {
      const { limit, cursor, ...filter } = request.query;
      const all = await listArtifacts(ctx.store.db, { ...filter, limit: 5000 });
      return pageOf(
        all,
        { key: (a) => [a.createdAt, a.sha256], descending: [true, false] },
        { limit, cursor },
      );
    },
  );
  r.get(
    "/api/v1/artifacts/:sha256/meta",
    {
      config: { access: "agent-or-read" },
      schema: { params: shaParams, response: { 200: artifactMetaSchema } },
    },
    async (request) => {
      checkAgentProtocol(request, false);
      await assertMayRead(ctx.store.db, actorOf(request), request.params.sha256);
      return getArtifact(ctx.store.db, request.params.sha256);
    },
  );
  r.get(
    "/api/v1/artifacts/:sha256",
    {
      config: { access: "agent-or-read" },
      schema: {
        summary: "Download an artifact's bytes (agents: only what their operations name)",
        params: shaParams,
      },
    },
    async (request, reply) => {
      checkAgentProtocol(request, false);
      const { meta, content } = await readArtifact(ctx.store.db, actorOf(request), request.params.sha256);
      return reply
        .header("content-type", "application/vnd.debian.binary-package")
        .header("content-disposition", `attachment; filename="${meta.fileName}"`)
        .header("etag", `"${meta.sha256}"`)
        .header("x-autopatch-artifact-sha256", meta.sha256)
        .header("x-autopatch-artifact-signature", meta.signature)
        .send(content);
    },
  );
}
