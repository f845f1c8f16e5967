import { generateKeyPairSync, type KeyObject, sign } from "node:crypto";
import { readFileSync } from "node:fs";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { basename } from "node:path";
import { POLL_HEARTBEAT_HEADER } from "../../src/agent/protocol.js";
import { sha256OfFile } from "../../src/dpkg/file-digest.js";
import {
  type ArtifactRef,
  type OperationResult,
  operationResultSchema,
} from "../../src/rollout/operation.js";

/** An operation as the stand-in hands it out; re-leased until a result for its id arrives. */
export interface StandInOperation {
  id: string;
  key: string;
  action: "patch" | "revert" | "verify";
  payload: Record<string, unknown>;
}

export interface StandInServer {
  url: string;
  /** The key artifacts are signed with; its public half goes to agents at enrollment. */
  readonly privateKey: KeyObject;
  /** Protocol header of every request received. */
  readonly protocolHeaders: Array<string | undefined>;
  readonly progress: Array<{ id: string; step: string }>;
  readonly results: Array<{ id: string; result: OperationResult }>;
  /** How many times each operation id was leased. */
  readonly leases: Map<string, number>;
  /** Heartbeat requests received. */
  readonly heartbeats: number;
  /** Long-polls for the next operation received (each after the agent read the answer to the one before). */
  readonly polls: number;
  /** Resolves once `holds` does, checked at every heartbeat and poll received. */
  until(holds: () => boolean): Promise<void>;
  /** Serves a file as an artifact; returns its signed reference. */
  addArtifact(
    path: string,
    meta: { package: string; version: string },
    options?: ArtifactOptions,
  ): Promise<ArtifactRef>;
  queue(op: StandInOperation): void;
  /** Resolves with the result of `id` once it arrives. */
  resultOf(id: string, timeoutMs?: number): Promise<OperationResult>;
  close(): Promise<void>;
}

export interface ArtifactOptions {
  /** Sign with this key instead of the server's (an attacker's artifact). */
  signWith?: KeyObject;
  /** Serve these bytes instead of the file's (a corrupted download). */
  serveBytes?: Buffer;
}

/**
 * A tiny stand-in for the autopatch server's agent routes (enroll, heartbeat, inventory, operations
 * long-poll, progress, result, artifacts), shaped as the design gives them: enough to drive a real
 * agent through operations without the rollout engine.
 */
export async function startStandInServer(
  /**
   * pollHeartbeats: answer polls with POLL_HEARTBEAT_HEADER, as a server that counts them as heartbeats.
   * heartbeatIntervalMs: the interval asked of the agent (default 1000).
   */
  options: { sendServerKey?: boolean; pollHeartbeats?: boolean; heartbeatIntervalMs?: number } = {},
): Promise<StandInServer> {
  const { privateKey, publicKey } = generateKeyPairSync("ed25519");
  const publicPem = publicKey.export({ type: "spki", format: "pem" }).toString();
  const artifacts = new Map<string, Buffer>();
  const pending: StandInOperation[] = [];
  const waiters = new Map<string, Array<(r: OperationResult) => void>>();
  const state = {
    protocolHeaders: [] as Array<string | undefined>,
    progress: [] as Array<{ id: string; step: string }>,
    results: [] as Array<{ id: string; result: OperationResult }>,
    leases: new Map<string, number>(),
    heartbeats: 0,
    polls: 0,
  };
  const intervalMs = options.heartbeatIntervalMs ?? 1000;
  const watchers = new Set<() => void>();
  const changed = () => {
    for (const check of [...watchers]) check();
  };

  const json = (res: ServerResponse, status: number, body: unknown) => {
    res.writeHead(status, { "content-type": "application/json" });
    res.end(JSON.stringify(body));
  };
  const readBody = async (req: IncomingMessage): Promise<unknown> => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const text = Buffer.concat(chunks).toString("utf8");
    return text === "" ? {} : JSON.parse(text);
  };

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? "/", "http://stand-in");
    const header = req.headers["x-autopatch-agent-protocol"];
    state.protocolHeaders.push(Array.isArray(header) ? header[0] : header);
    const path = url.pathname;
    if (req.method === "POST" && path === "/api/v1/agent/enroll") {
      const body = (await readBody(req)) as { name: string };
      return json(res, 201, {
        assetId: `asset-${body.name}`,
        assetName: body.name,
        credential: "apa_standin",
        heartbeatIntervalMs: intervalMs,
        ...(options.sendServerKey === false ? {} : { serverPublicKey: publicPem }),
      });
    }
    if (req.method === "POST" && path === "/api/v1/agent/heartbeat") {
      await readBody(req);
      state.heartbeats += 1;
      changed();
      return json(res, 200, { heartbeatIntervalMs: intervalMs, inventoryWanted: false });
    }
    if (req.method === "PUT" && path === "/api/v1/agent/inventory") {
      await readBody(req);
      return json(res, 200, { total: 0, added: 0, removed: 0, changed: 0, unchanged: true });
    }
    if (req.method === "GET" && path === "/api/v1/agent/operations/next") {
      state.polls += 1;
      changed();
      const waitMs = Math.min(Number(url.searchParams.get("waitMs") ?? 0), 300);
      const deadline = Date.now() + waitMs;
      while (Date.now() < deadline && pending.length === 0 && !req.destroyed)
        await new Promise((r) => setTimeout(r, 20));
      const op = pending[0];
      if (options.pollHeartbeats) res.setHeader(POLL_HEARTBEAT_HEADER, "1");
      if (!op) {
        res.writeHead(204);
        return res.end();
      }
      state.leases.set(op.id, (state.leases.get(op.id) ?? 0) + 1);
      return json(res, 200, { ...op, leaseExpiresAt: new Date(Date.now() + 60_000).toISOString() });
    }
    const progress = /^\/api\/v1\/agent\/operations\/([^/]+)\/progress$/.exec(path);
    if (req.method === "POST" && progress?.[1]) {
      const body = (await readBody(req)) as { step: string };
      state.progress.push({ id: progress[1], step: body.step });
      return json(res, 200, {});
    }
    const result = /^\/api\/v1\/agent\/operations\/([^/]+)\/result$/.exec(path);
    if (req.method === "POST" && result?.[1]) {
      const id = result[1];
      const parsed = operationResultSchema.parse(await readBody(req));
      state.results.push({ id, result: parsed });
      const index = pending.findIndex((op) => op.id === id);
      if (index >= 0) pending.splice(index, 1);
      for (const resolve of waiters.get(id) ?? []) resolve(parsed);
      waiters.delete(id);
      return json(res, 200, {});
    }
    const artifact = /^\/api\/v1\/artifacts\/([0-9a-f]{64})$/.exec(path);
    if (req.method === "GET" && artifact?.[1]) {
      const bytes = artifacts.get(artifact[1]);
      if (!bytes) return json(res, 404, { error: { code: "not_found", message: "no such artifact" } });
      res.writeHead(200, { "content-type": "application/vnd.debian.binary-package" });
      return res.end(bytes);
    }
    json(res, 404, { error: { code: "not_found", reason: "request.route-not-found", message: path } });
  };

  const server: Server = createServer((req, res) => {
    handle(req, res).catch((err: Error) =>
      json(res, 500, { error: { code: "internal", message: err.message } }),
    );
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  return {
    url,
    privateKey,
    protocolHeaders: state.protocolHeaders,
    progress: state.progress,
    results: state.results,
    leases: state.leases,
    get heartbeats() {
      return state.heartbeats;
    },
    get polls() {
      return state.polls;
    },
    until(holds) {
      return new Promise<void>((resolve) => {
        const check = () => {
          if (!holds()) return;
          watchers.delete(check);
          resolve();
        };
        watchers.add(check);
        check();
      });
    },
    async addArtifact(path, meta, artifactOptions = {}) {
      const sha256 = await sha256OfFile(path);
      artifacts.set(sha256, artifactOptions.serveBytes ?? readFileSync(path));
      const signature = sign(
        null,
        Buffer.from(sha256, "utf8"),
        artifactOptions.signWith ?? privateKey,
      ).toString("base64");
      return {
        sha256,
        fileName: basename(path),
        ...meta,
        arch: "all",
        size: readFileSync(path).length,
        signature,
      };
    },
    queue(op) {
      pending.push(op);
    },
    resultOf(id, timeoutMs = 20_000) {
      const done = state.results.find((r) => r.id === id);
      if (done) return Promise.resolve(done.result);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(
          () => reject(new Error(`no result for ${id} within ${timeoutMs} ms`)),
          timeoutMs,
        );
        waiters.set(id, [
          ...(waiters.get(id) ?? []),
          (r) => {
            clearTimeout(timer);
            resolve(r);
          },
        ]);
      });
    },
    async close() {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}
