/**
 * Writes src/client/api-types.ts from the server's OpenAPI document (`npm run api:types`). The API
 * client is typed from that file, and a test regenerates it and compares, so routes, spec and client
 * cannot drift apart.
 */
import { writeFile } from "node:fs/promises";
import { fileURLToPath, pathToFileURL } from "node:url";
import openapiTS, { type OpenAPI3 } from "openapi-typescript";
import { openApiDocument } from "../src/server/openapi-document.js";

export const API_TYPES_PATH = fileURLToPath(new URL("../src/client/api-types.ts", import.meta.url));

export async function generateApiTypes(): Promise<string> {
  const document = (await openApiDocument()) as unknown as OpenAPI3;
  return openapiTS(document, { exportType: false, immutableTypes: false, alphabetize: false });
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  await writeFile(API_TYPES_PATH, await generateApiTypes());
}
