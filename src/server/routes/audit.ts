import { Readable } from "node:stream";
import type { FastifyInstance } from "fastify";
import type { ZodTypeProvider } from "fastify-type-provider-zod";
import { z } from "zod";
import { signedCheckpointSchema } from "../../audit/checkpoint.js";
import type { AuditCheckpointer } from "../../audit/checkpointer.js";
import { parseInstant } from "../../audit/export.js";
import { listAudit, verifyAuditChain } from "../../audit/log.js";
import { verifyAgainstCheckpoints } from "../../audit/verify-checkpoints.js";
import { reasonError } from "../../domain/errors.js";
import type { ServiceContext } from "../../service/context.js";
import { decodeSingleCursor, encodeCursor, pageQueryFields, pageSchema } from "../lists/paging.js";
import { auditEventSchema } from "../schemas.js";

/** A year of checkpoints every five minutes is about 30 MB. */
const CHECKPOINTS_BODY_LIMIT = 32 * 1024 * 1024;

export async function auditRoutes(
  app: FastifyInstance,
  ctx: ServiceContext,
  checkpointer: AuditCheckpointer | null,
): Promise<void> {
  const r = app.withTypeProvider<ZodTypeProvider>();
  const signer = (): AuditCheckpointer => {
    if (!checkpointer) {
      throw reasonError("audit.signing-unavailable", "this server was started without an audit signing key");
    }
    return checkpointer;
  };
  r.get(
    "/api/v1/audit",
    {
      config: { access: "read" },
      schema: {
        summary: "Page through audit events in chain order",
        querystring: z.object({
          after: z.coerce.number().int().min(0).optional().describe("only events after this sequence number"),
          ...pageQueryFields,
          targetType: z.string().optional(),
          targetId: z.string().optional(),
          action: z.string().optional(),
        }),
        response: { 200: pageSchema(auditEventSchema) },
      },
    },
    async (request) => {
      const { cursor, after, ...query } = request.query;
      const from = Math.max(after ?? 0, cursor === undefined ? 0 : decodeSingleCursor(cursor, "number"));
      const page = await listAudit(ctx.store.db, { ...query, after: from });
      return { items: page.events, next: page.next === null ? null : encodeCursor([page.next]) };
    },
  );
  r.get(
    "/api/v1/audit/verify",
    {
      config: { access: "read" },
      schema: {
        summary: "Verify the whole hash chain, and that it extends the server's latest checkpoint",
      },
    },
    async () => {
      // The server's own latest checkpoint catches events cut or re-hashed by a writer of the store alone.
      const latest = checkpointer?.latest();
      return checkpointer && latest
        ? verifyAgainstCheckpoints(ctx.store.db, [latest], checkpointer.key.publicKey)
        : verifyAuditChain(ctx.store.db);
    },
  );
  r.post(
    "/api/v1/audit/verify",
    {
      config: { access: "read" },
      bodyLimit: CHECKPOINTS_BODY_LIMIT,
      schema: {
        summary: "Verify the chain against signed checkpoints kept outside the database",
        body: z.object({ checkpoints: z.array(signedCheckpointSchema).min(1) }),
      },
    },
    async (request) =>
      verifyAgainstCheckpoints(ctx.store.db, request.body.checkpoints, signer().key.publicKey),
  );
  r.get(
    "/api/v1/audit/public-key",
    {
      config: { access: "read" },
      schema: {
        summary: "The ed25519 key that signs checkpoints (PEM, SubjectPublicKeyInfo) and its id",
        response: { 200: z.object({ publicKey: z.string(), keyId: z.string() }) },
      },
    },
    async () => ({ publicKey: signer().key.publicKeyPem, keyId: signer().key.keyId }),
  );
  r.post(
    "/api/v1/audit/checkpoints",
    {
      config: { access: "admin" },
      schema: {
        summary: "Sign the head now and append the checkpoint to the server's checkpoint log",
        response: { 200: signedCheckpointSchema },
      },
    },
    async () => signer().checkpoint(),
  );
  r.get(
    "/api/v1/audit/export",
    {
      config: { access: "read" },
      schema: {
        summary: "Events as JSON Lines with their hashes, then a signed checkpoint of the last one",
        querystring: z.object({ since: z.string().max(64).optional(), until: z.string().max(64).optional() }),
      },
    },
    async (request, reply) => {
      const { since, until } = request.query;
      const lines = await signer().export({
        ...(since === undefined ? {} : { since: parseInstant(since, "/query/since") }),
        ...(until === undefined ? {} : { until: parseInstant(until, "/query/until") }),
      });
      return reply.type("application/x-ndjson; charset=utf-8").send(Readable.from(lines));
    },
  );
}
