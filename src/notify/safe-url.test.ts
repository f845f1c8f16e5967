import { describe, expect, it } from "vitest";
import { safeUrl } from "./safe-url.js";

describe("safeUrl", () => {
  it.each([
    ["https://hooks.example.com/notify?token=s3cret", "https://hooks.example.com/notify"],
    ["https://user:pa55@hooks.example.com:8443/a/b?x=1#frag", "https://hooks.example.com:8443/a/b"],
    ["http://127.0.0.1:9000/", "http://127.0.0.1:9000/"],
    ["https://chat.example.org/api/v1/webhook/abc#section", "https://chat.example.org/api/v1/webhook/abc"],
    ["not a url?token=s3cret", "(unparseable URL)"],
  ])("%s → %s", (url, shown) => {
    expect(safeUrl(url)).toBe(shown);
  });
});
