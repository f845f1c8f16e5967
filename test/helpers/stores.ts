import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import pg from "pg";
import { pino } from "pino";
import { afterAll, beforeAll, inject } from "vitest";
import {
  DEFAULT_SERVICE_CONFIG,
  type ServiceConfig,
  type ServiceContext,
} from "../../src/service/context.js";
import { type DialectName, openStore, type Store } from "../../src/store/store.js";

export const DIALECTS: readonly DialectName[] = ["sqlite", "postgres"];

/**
 * A fresh store: a new SQLite file, or a new database in the run's PostgreSQL; migrated unless
 * `migrate: false`. `url` opens it again, e.g. from a CLI process.
 */
export async function freshStore(
  dialect: DialectName,
  options: { migrate?: boolean } = {},
): Promise<Store & { url: string; dispose(): Promise<void> }> {
  if (dialect === "sqlite") {
    const dir = mkdtempSync(join(tmpdir(), "autopatch-sqlite-"));
    const url = `sqlite:${join(dir, "test.db")}`;
    const store = await openStore(url, options);
    return {
      ...store,
      url,
      dispose: async () => {
        await store.close();
        rmSync(dir, { recursive: true, force: true });
      },
    };
  }
  const base = inject("pgBaseUrl");
  const name = `t_${randomBytes(6).toString("hex")}`;
  const admin = new pg.Client({ connectionString: `${base}/postgres` });
  await admin.connect();
  await admin.query(`create database ${name}`);
  await admin.end();
  const url = `${base}/${name}`;
  const store = await openStore(url, options);
  return {
    ...store,
    url,
    dispose: async () => {
      await store.close();
      // Without FORCE: a forced drop can reach a closing pool connection before it has gone and
      // surface as an uncaught error in the test. Backends of a closed pool leave within moments.
      const a = new pg.Client({ connectionString: `${base}/postgres` });
      await a.connect();
      for (let attempt = 0; ; attempt++) {
        try {
          await a.query(`drop database if exists ${name}`);
          break;
        } catch (err) {
          if ((err as { code?: string }).code !== "55006" || attempt >= 50) throw err;
          await sleep(100);
        }
      }
      await a.end();
    },
  };
}

/** A service context over a store with a silent logger, an adjustable clock and configuration. */
export function contextFor(
  store: Store,
  now: () => Date = () => new Date(),
  config: Partial<ServiceConfig> = {},
): ServiceContext {
  return { store, logger: pino({ level: "silent" }), config: { ...DEFAULT_SERVICE_CONFIG, ...config }, now };
}

/** The allow-list under which the tests' own webhook receivers on the loopback interface are reachable. */
export const LOOPBACK_WEBHOOKS: Partial<ServiceConfig> = { webhookAllow: ["127.0.0.1"] };

export type TestStore = Awaited<ReturnType<typeof freshStore>>;

/**
 * One fresh, migrated store and its service context for the tests of a describe block: made before
 * them, disposed after. Read `store` and `ctx` inside the tests (they exist from beforeAll on).
 */
export function suiteStore(
  dialect: DialectName,
  now?: () => Date,
  config?: Partial<ServiceConfig>,
): { readonly store: TestStore; readonly ctx: ServiceContext } {
  let store: TestStore | undefined;
  let ctx: ServiceContext | undefined;
  beforeAll(async () => {
    store = await freshStore(dialect);
    ctx = contextFor(store, now, config);
  });
  afterAll(async () => {
    await store?.dispose();
  });
  const made = <T>(value: T | undefined): T => {
    if (value === undefined) throw new Error("the suite's store is made in beforeAll: read it inside a test");
    return value;
  };
  return {
    get store() {
      return made(store);
    },
    get ctx() {
      return made(ctx);
    },
  };
}
