import { describe, expect, it } from "vitest";
import { mayHoldForbiddenKey } from "./json-body.js";

describe("mayHoldForbiddenKey", () => {
  it("sends every spelling of a forbidden key to the original parser", () => {
    for (const text of [
      '{"__proto__":{}}',
      '{"constructor":{"prototype":{}}}',
      '{"\\u005f_proto__":{}}',
      '{"__pr\\u006fto__":{}}',
      '{"c\\u006fnstructor":{}}',
    ]) {
      expect(mayHoldForbiddenKey(text), text).toBe(true);
    }
  });

  it("lets plain JSON through", () => {
    expect(mayHoldForbiddenKey('{"packages":[{"name":"openssl","version":"3.0"}]}')).toBe(false);
  });
});
