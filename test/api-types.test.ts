import { readFile } from "node:fs/promises";
import { describe, expect, it } from "vitest";
import { API_TYPES_PATH, generateApiTypes } from "../scripts/api-types.js";

describe("the generated API types", () => {
  it("match the routes: regenerated from the server's OpenAPI document, they equal the committed file", async () => {
    const committed = await readFile(API_TYPES_PATH, "utf8");
    // On a mismatch, run `npm run api:types` and commit src/client/api-types.ts.
    expect(await generateApiTypes()).toBe(committed);
  });
});
