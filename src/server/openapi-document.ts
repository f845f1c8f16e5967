import { pino } from "pino";
import { serviceContext } from "../service/context.js";
import { openStore } from "../store/store.js";
import { buildApp } from "./app.js";

/** The server's OpenAPI document, from a throwaway app: what `npm run api:types` generates types from. */
export async function openApiDocument(): Promise<Record<string, unknown>> {
  const store = await openStore("sqlite::memory:", { migrate: false });
  try {
    const app = await buildApp(serviceContext(store, pino({ level: "silent" })));
    try {
      return app.swagger() as unknown as Record<string, unknown>;
    } finally {
      await app.close();
    }
  } finally {
    await store.close();
  }
}
