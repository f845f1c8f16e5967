import { describe, expect, it } from "vitest";
import { AppError } from "../domain/errors.js";
import { HealthCheckSchema } from "../policy/schema.js";
import type { CheckContext } from "./check-types.js";
import { resolveHealthChecks } from "./resolve.js";

const ctx: CheckContext = {
  name: "web-01",
  environment: "prod",
  group: "web",
  region: "eu-west",
  labels: { "health-port": "8081", path: "a/b c", host: "evil.example:9000@x", empty: "" },
};

const check = (input: Record<string, unknown>) => HealthCheckSchema.parse({ name: "c", ...input });

function errorOf(fn: () => unknown): AppError {
  try {
    fn();
  } catch (err) {
    if (err instanceof AppError) return err;
    throw err;
  }
  throw new Error("expected an error");
}

describe("resolveHealthChecks", () => {
  it("fills the issue's example and converts durations", () => {
    const [resolved] = resolveHealthChecks(
      [
        check({
          http: "http://127.0.0.1:{{labels.health-port}}/health",
          expectStatus: 200,
          timeout: "2s",
          retries: 2,
        }),
      ],
      ctx,
    );
    expect(resolved).toEqual({
      name: "c",
      http: "http://127.0.0.1:8081/health",
      expectStatus: 200,
      expectExit: 0,
      timeoutMs: 2000,
      retries: 2,
      intervalMs: 1000,
    });
  });

  it.each([
    [
      "http://127.0.0.1/{{name}}/{{ environment }}?g={{group}}&r={{region}}",
      "http://127.0.0.1/web-01/prod?g=web&r=eu-west",
    ],
    // A value cannot add path segments, a query or a different host: it is one encoded component.
    ["http://127.0.0.1:1/x/{{labels.path}}", "http://127.0.0.1:1/x/a%2Fb%20c"],
    ["http://127.0.0.1:1/?q={{labels.host}}", "http://127.0.0.1:1/?q=evil.example%3A9000%40x"],
    ["http://127.0.0.1:1/{{labels.empty}}", "http://127.0.0.1:1/"],
  ])("URL %s → %s", (template, url) => {
    expect(resolveHealthChecks([check({ http: template })], ctx)[0]?.http).toBe(url);
  });

  it("refuses a label that would change the host once encoded", () => {
    const err = errorOf(() => resolveHealthChecks([check({ http: "http://{{labels.host}}/health" })], ctx));
    expect(err.reason).toBe("verify.invalid-url");
    expect(err.where).toBe("/verification/healthChecks/0/http");
  });

  it("gives command arguments their values verbatim", () => {
    const [resolved] = resolveHealthChecks(
      [check({ command: ["/bin/check", "--path={{labels.path}}", "{{labels.host}}", "{{name}}"] })],
      ctx,
    );
    expect(resolved?.command).toEqual(["/bin/check", "--path=a/b c", "evil.example:9000@x", "web-01"]);
  });

  it.each([
    [
      { http: "http://127.0.0.1/{{hostname}}" },
      "verify.unknown-placeholder",
      "/verification/healthChecks/1/http",
      /\{\{hostname\}\}/,
    ],
    [
      { command: ["x", "{{labels.nope}}"] },
      "verify.missing-label",
      "/verification/healthChecks/1/command/1",
      /no label "nope"/,
    ],
    [
      { http: "http://127.0.0.1/{{labels.}}" },
      "verify.unknown-placeholder",
      "/verification/healthChecks/1/http",
      /\{\{labels\.\}\}/,
    ],
    [
      { http: "ftp://127.0.0.1/x" },
      "verify.invalid-url",
      "/verification/healthChecks/1/http",
      /http or https/,
    ],
    [
      { http: "http://127.0.0.1/", timeout: 0 },
      "verify.invalid-timeout",
      "/verification/healthChecks/1/timeout",
      /more than 0/,
    ],
  ])("refuses %j with %s at %s", (input, reason, where, message) => {
    const err = errorOf(() => resolveHealthChecks([check({ command: ["true"] }), check(input)], ctx));
    expect(err.reason).toBe(reason);
    expect(err.where).toBe(where);
    expect(err.message).toMatch(message);
    expect(err.status).toBe(400);
  });

  it("does not read inherited properties as labels", () => {
    const err = errorOf(() => resolveHealthChecks([check({ command: ["{{labels.constructor}}"] })], ctx));
    expect(err.reason).toBe("verify.missing-label");
  });
});
