import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ResolvedHealthCheck } from "./check-types.js";
import { runHealthChecks } from "./run-checks.js";

let server: Server;
let base: string;
let flakyHits = 0;

beforeAll(async () => {
  server = createServer((req, res) => {
    if (req.url === "/health") return res.end("ok version=1.1.0");
    if (req.url === "/down") {
      res.statusCode = 503;
      return res.end("bad");
    }
    if (req.url === "/redirect") {
      res.writeHead(302, { location: "/health" });
      return res.end();
    }
    if (req.url === "/slow") return setTimeout(() => res.end("late"), 2000).unref();
    if (req.url === "/big") return res.end(`version=1.1.0 ${"x".repeat(3 * 1024 * 1024)}`);
    if (req.url === "/slow-body") {
      res.write("version=");
      return setTimeout(() => res.end("1.1.0"), 2000).unref();
    }
    if (req.url === "/flaky") {
      flakyHits += 1;
      res.statusCode = flakyHits < 3 ? 500 : 200;
      return res.end();
    }
    res.statusCode = 404;
    res.end();
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

const http = (path: string, extra: Partial<ResolvedHealthCheck> = {}): ResolvedHealthCheck => ({
  name: path,
  http: `${base}${path}`,
  expectStatus: 200,
  expectExit: 0,
  timeoutMs: 1000,
  retries: 0,
  intervalMs: 10,
  ...extra,
});
const command = (argv: string[], extra: Partial<ResolvedHealthCheck> = {}): ResolvedHealthCheck => ({
  name: argv.join(" "),
  command: argv,
  expectStatus: 200,
  expectExit: 0,
  timeoutMs: 2000,
  retries: 0,
  intervalMs: 10,
  ...extra,
});

const run = async (check: ResolvedHealthCheck) => {
  const [result] = await runHealthChecks([check], new AbortController().signal);
  if (!result) throw new Error("no result");
  return result;
};

describe("http checks", () => {
  it.each([
    ["/health", {}, true, /^HTTP 200$/],
    ["/health", { bodyMatch: "version=1\\.1\\." }, true, /^HTTP 200$/],
    ["/health", { bodyMatch: "version=2" }, false, /does not match/],
    ["/down", {}, false, /HTTP 503, expected 200/],
    ["/down", { expectStatus: 503 }, true, /HTTP 503/],
    ["/redirect", {}, false, /HTTP 302, expected 200/],
    ["/slow", { timeoutMs: 200 }, false, /no answer within 200 ms/],
    ["/big", { bodyMatch: "^version=1\\.1\\." }, true, /^HTTP 200$/],
    ["/big", {}, true, /^HTTP 200$/],
    ["/slow-body", { timeoutMs: 200 }, false, /no answer within 200 ms/],
    ["/slow-body", { timeoutMs: 200, bodyMatch: "1\\.1" }, false, /no answer within 200 ms/],
  ])("GET %s %j → ok=%s", async (path, extra, ok, detail) => {
    const result = await run(http(path, extra));
    expect(result.ok).toBe(ok);
    expect(result.detail).toMatch(detail);
    expect(result.tries).toBe(1);
    // A hung endpoint fails its check in its timeout, not when the endpoint gives up.
    expect(result.durationMs).toBeLessThan(1500);
  });

  it("reports a refused connection", async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, "127.0.0.1", resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise((resolve) => closed.close(resolve));
    const result = await run({ ...http("/"), http: `http://127.0.0.1:${port}/health` });
    expect(result.ok).toBe(false);
    expect(result.detail).toMatch(/ECONNREFUSED/);
  });

  it("retries until a try passes, interval apart", async () => {
    flakyHits = 0;
    const result = await run(http("/flaky", { retries: 5, intervalMs: 50 }));
    expect(result).toMatchObject({ ok: true, tries: 3 });
    expect(result.durationMs).toBeGreaterThanOrEqual(100);
  });

  it("gives up after the retries", async () => {
    const result = await run(http("/down", { retries: 2 }));
    expect(result).toMatchObject({ ok: false, tries: 3 });
    expect(result.detail).toMatch(/try 3 of 3/);
  });
});

describe("command checks", () => {
  it.each([
    [["true"], {}, true, /exit 0/],
    [["false"], {}, false, /exit 1, expected 0/],
    [["sh", "-c", "echo broken >&2; exit 3"], {}, false, /exit 3, expected 0: broken/],
    [["sh", "-c", "exit 3"], { expectExit: 3 }, true, /exit 3/],
    [["true"], { expectExit: 2 }, false, /exit 0, expected 2/],
    [["/nonexistent/check"], {}, false, /command not found/],
    [["sleep", "5"], { timeoutMs: 200 }, false, /killed after 200 ms/],
  ])("%j %j → ok=%s", async (argv, extra, ok, detail) => {
    const result = await run(command(argv, extra));
    expect(result.ok).toBe(ok);
    expect(result.detail).toMatch(detail);
  });

  it("passes arguments verbatim, with no shell in between", async () => {
    const result = await run(command(["test", "$(touch /tmp/never) ;", "=", "$(touch /tmp/never) ;"]));
    expect(result.ok).toBe(true);
  });
});

it("runs checks at once and keeps their order", async () => {
  const started = Date.now();
  const results = await runHealthChecks(
    [command(["sleep", "0.3"]), http("/health"), command(["sleep", "0.3"])],
    new AbortController().signal,
  );
  expect(results.map((r) => r.ok)).toEqual([true, true, true]);
  expect(results.map((r) => r.name)).toEqual(["sleep 0.3", "/health", "sleep 0.3"]);
  expect(Date.now() - started).toBeLessThan(550);
});

it("stops when the signal aborts", async () => {
  const controller = new AbortController();
  setTimeout(() => controller.abort(new Error("stopping")), 100);
  await expect(
    runHealthChecks([http("/down", { retries: 100, intervalMs: 50 })], controller.signal),
  ).rejects.toThrow("stopping");
});

it("fails an http check whose address is not http or https", async () => {
  const [result] = await runHealthChecks(
    [{ ...http("/health"), http: "ftp://127.0.0.1/health" }],
    new AbortController().signal,
  );
  expect(result?.ok).toBe(false);
  expect(result?.detail).toMatch(/failed: ftp: is not http or https/);
});

it("runs many checks at once without crowding the caller's signal", async () => {
  const warnings: Error[] = [];
  const onWarning = (w: Error) => warnings.push(w);
  process.on("warning", onWarning);
  try {
    const checks = Array.from({ length: 15 }, (_, i) => ({ ...http("/health"), name: `c${i}` }));
    const results = await runHealthChecks(checks, new AbortController().signal);
    expect(results.map((r) => r.ok)).toEqual(checks.map(() => true));
    await new Promise((resolve) => setImmediate(resolve));
    expect(warnings.filter((w) => w.name === "MaxListenersExceededWarning")).toEqual([]);
  } finally {
    process.off("warning", onWarning);
  }
});
