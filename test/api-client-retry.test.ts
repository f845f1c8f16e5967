import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { ApiClient } from "../src/client/api-client.js";

const RETRY = { retry: { attempts: 3, baseMs: 1, capMs: 5 } };

/** A server that answers each request with the next status of `statuses` (the last one repeats). */
async function flaky(statuses: number[]): Promise<{ url: string; hits: string[]; server: Server }> {
  const hits: string[] = [];
  const server = createServer((req, res) => {
    hits.push(req.method ?? "");
    const status = statuses[Math.min(hits.length - 1, statuses.length - 1)] ?? 200;
    res.writeHead(status, { "content-type": "application/json" });
    res.end(
      JSON.stringify(
        status === 200 ? { ok: true } : { error: { code: "internal", message: `status ${status}` } },
      ),
    );
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, hits, server };
}

describe("the API client's retries", () => {
  let server: Server | undefined;
  afterEach(() => {
    server?.close();
  });

  it("retries a read through a restarting server's 503s", async () => {
    const s = await flaky([503, 502, 200]);
    server = s.server;
    expect(await new ApiClient(s.url, "t", 5_000, RETRY).get("/x")).toEqual({ ok: true });
    expect(s.hits).toEqual(["GET", "GET", "GET"]);
  });

  it("gives up after its attempts with the server's own error", async () => {
    const s = await flaky([503]);
    server = s.server;
    await expect(new ApiClient(s.url, "t", 5_000, RETRY).get("/x")).rejects.toMatchObject({
      code: "internal",
      message: "status 503",
    });
    expect(s.hits).toHaveLength(3);
  });

  it("never repeats a write, and does not retry without a policy or on a 4xx", async () => {
    const s = await flaky([503, 200]);
    server = s.server;
    await expect(new ApiClient(s.url, "t", 5_000, RETRY).post("/x", {})).rejects.toMatchObject({
      message: "status 503",
    });
    expect(s.hits).toEqual(["POST"]);
    const t = await flaky([404, 200]);
    await expect(new ApiClient(t.url, "t", 5_000, RETRY).get("/x")).rejects.toMatchObject({
      message: "status 404",
    });
    expect(t.hits).toHaveLength(1);
    t.server.close();
    const u = await flaky([503, 200]);
    await expect(new ApiClient(u.url, "t", 5_000).get("/x")).rejects.toMatchObject({ message: "status 503" });
    u.server.close();
  });

  it("retries a refused connection and reports it as unreachable", async () => {
    const s = await flaky([200]);
    const url = s.url;
    await new Promise<void>((resolve) => s.server.close(() => resolve()));
    await expect(new ApiClient(url, "t", 5_000, RETRY).get("/x")).rejects.toMatchObject({
      code: "internal",
      message: expect.stringContaining(`cannot reach the autopatch server at ${url}`),
    });
  });
});
