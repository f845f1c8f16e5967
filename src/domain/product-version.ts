import { readFileSync } from "node:fs";

/**
 * The version of this build, from the package's own package.json (two folders up from both src/domain
 * and dist/domain), so the CLI, the server and the agent cannot disagree about it.
 */
export const PRODUCT_VERSION: string = (
  JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as { version: string }
).version;
