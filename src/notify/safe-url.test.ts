import { describe, expect, it } from "vitest";
import { safeUrl } from "./safe-url.js";

describe("safeUrl", () => {
  it.each([
    ["https://hooks.example.com/notify?token=s3cret", "https://hooks.example.com/…"],
    ["https://user:pa55@hooks.example.com:8443/a/b?x=1#frag", "https://hooks.example.com:8443/…"],
    ["http://127.0.0.1:9000/", "http://127.0.0.1:9000/…"],
    // Slack-style webhooks carry their secret in the path.
    ["https://hooks.slack.example/services/T000/B000/s3cretpath", "https://hooks.slack.example/…"],
    ["not a url?token=s3cret", "(unparseable URL)"],
  ])("%s → %s", (url, shown) => {
    expect(safeUrl(url)).toBe(shown);
    expect(safeUrl(url)).not.toContain("s3cret");
  });
});
