import { describe, expect, it } from "vitest";
import { userLocation } from "./request-location.js";

describe("userLocation", () => {
  it.each([
    ["/query/class", "--class"],
    ["/query/cursor", "--after"],
    ["/query/selector", "--selector"],
    ["/query/targetType", "--target-type"],
    ["/body/labels/set/tier", "--label tier"],
    ["/body/labels/k", "--label k"],
    ["/body/justification", "--justification"],
    ["/body/ttlSeconds", "--ttl"],
    ["/body/expiresAt", "--expires"],
    ["/body/reviewBy", "--review-by"],
    ["/params/name", "<name>"],
    ["/params/id", "<id>"],
    ["/body", "the input"],
    ["/headers", "the request headers"],
    ["/url", "the request URL"],
    ["policy.yaml:3:7", "policy.yaml:3:7"],
    ["/tmp/policies/a.yaml:1:7", "/tmp/policies/a.yaml:1:7"],
    ["/name", "/name"],
    ["offset 7", "offset 7"],
  ])("%s → %s", (where, expected) => {
    expect(userLocation(where)).toBe(expected);
  });
});
