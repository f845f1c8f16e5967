import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { ApiClient } from "../src/client/api-client.js";

/** A server that takes requests and never answers (`/hang`) or sends its headers only (`/half`). */
async function hung(): Promise<{ url: string; server: Server }> {
  const server = createServer((req, res) => {
    if (req.url === "/half") {
      res.writeHead(200, { "content-type": "application/json" });
      res.write('{"partial":');
    }
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, server };
}

describe("the API client's timeout", () => {
  let server: Server | undefined;
  afterEach(() => {
    server?.closeAllConnections();
    server?.close();
  });

  it("ends a request to a server that never answers", async () => {
    const s = await hung();
    server = s.server;
    const started = performance.now();
    await expect(new ApiClient(s.url, "t", 200).get("/hang")).rejects.toThrow(/cannot reach|timeout/);
    expect(performance.now() - started).toBeLessThan(2_000);
  });

  it("ends a request whose answer's body never ends", async () => {
    const s = await hung();
    server = s.server;
    const started = performance.now();
    await expect(new ApiClient(s.url, "t", 200).post("/half", {})).rejects.toThrow(/timeout|abort/i);
    expect(performance.now() - started).toBeLessThan(2_000);
  });

  it("still holds when the caller passes its own signal, and the caller's abort ends it sooner", async () => {
    const s = await hung();
    server = s.server;
    const client = new ApiClient(s.url, "t", 200);
    const outer = new AbortController();
    let started = performance.now();
    await expect(client.request("GET", "/hang", undefined, { signal: outer.signal })).rejects.toThrow();
    expect(performance.now() - started).toBeLessThan(2_000);

    const slow = new ApiClient(s.url, "t", 60_000);
    started = performance.now();
    const pending = slow.request("GET", "/hang", undefined, { signal: outer.signal });
    setTimeout(() => outer.abort(new Error("stopping")), 50);
    await expect(pending).rejects.toThrow();
    expect(performance.now() - started).toBeLessThan(2_000);
  });

  it("ends a typed call to a server that never answers", async () => {
    const s = await hung();
    server = s.server;
    const client = new ApiClient(s.url, "t", 200);
    const started = performance.now();
    await expect(client.api.GET("/healthz")).rejects.toThrow(/cannot reach/);
    expect(performance.now() - started).toBeLessThan(2_000);
  });
});
