import { describe, expect, it } from "vitest";
import { EMPTY_ALLOW_LIST, parseWebhookAllowList } from "../policy/webhook-destination.js";
import { type Resolver, refusedDestination } from "./destination-guard.js";

const resolvesTo =
  (...addresses: string[]): Resolver =>
  async () =>
    addresses.map((address) => ({ address }));

describe("delivery-time destination check", () => {
  it("refuses a name that resolves to a refused address, even among public ones", async () => {
    expect(
      await refusedDestination(
        "https://hooks.example.org/x",
        EMPTY_ALLOW_LIST,
        resolvesTo("169.254.169.254"),
      ),
    ).toBe("destination refused: hooks.example.org resolves to 169.254.169.254, a linkLocal address");
    expect(
      await refusedDestination(
        "https://hooks.example.org/x",
        EMPTY_ALLOW_LIST,
        resolvesTo("93.184.215.14", "::ffff:127.0.0.1"),
      ),
    ).toContain("127.0.0.1, a loopback address");
  });

  it("lets a name through that resolves to public addresses, or that the allow-list names", async () => {
    expect(
      await refusedDestination("https://hooks.example.org/x", EMPTY_ALLOW_LIST, resolvesTo("93.184.215.14")),
    ).toBeNull();
    const allow = parseWebhookAllowList(["hooks.example.org"]);
    expect(await refusedDestination("https://hooks.example.org/x", allow, resolvesTo("10.0.0.1"))).toBeNull();
    const range = parseWebhookAllowList(["10.0.0.0/8"]);
    expect(await refusedDestination("https://hooks.example.org/x", range, resolvesTo("10.0.0.1"))).toBeNull();
  });

  it("refuses literals and non-http URLs without resolving anything", async () => {
    const never: Resolver = async () => {
      throw new Error("not resolved");
    };
    expect(await refusedDestination("http://127.0.0.1:9/x", EMPTY_ALLOW_LIST, never)).toContain("loopback");
    expect(await refusedDestination("file:///etc/passwd", EMPTY_ALLOW_LIST, never)).toContain("uses file");
    // A name that does not resolve is left for the post to fail with its own error.
    expect(await refusedDestination("https://nowhere.invalid/x", EMPTY_ALLOW_LIST, never)).toBeNull();
  });
});
