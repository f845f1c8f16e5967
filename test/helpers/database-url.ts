import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import pg from "pg";
import { inject } from "vitest";
import type { DialectName } from "../../src/store/store.js";

export interface FreshDatabase {
  /** A URL for AUTOPATCH_DATABASE_URL or openStore: a new SQLite file, or a new PostgreSQL database. */
  url: string;
  dispose(): Promise<void>;
}

/**
 * An empty database that several stores or processes can open by URL (freshStore gives one store
 * only); not migrated: whoever opens it first migrates it.
 */
export async function freshDatabase(dialect: DialectName): Promise<FreshDatabase> {
  if (dialect === "sqlite") {
    const dir = mkdtempSync(join(tmpdir(), "autopatch-db-"));
    return {
      url: `sqlite:${join(dir, "test.db")}`,
      dispose: async () => rmSync(dir, { recursive: true, force: true }),
    };
  }
  const base = inject("pgBaseUrl");
  const name = `t_${randomBytes(6).toString("hex")}`;
  const admin = new pg.Client({ connectionString: `${base}/postgres` });
  await admin.connect();
  await admin.query(`create database ${name}`);
  await admin.end();
  return {
    url: `${base}/${name}`,
    dispose: async () => {
      const a = new pg.Client({ connectionString: `${base}/postgres` });
      await a.connect();
      try {
        // `with (force)` ends a killed server's lingering backends; a drop racing their exit is
        // refused (55006) for a moment.
        for (let attempt = 0; ; attempt++) {
          try {
            await a.query(`drop database if exists ${name} with (force)`);
            return;
          } catch (err) {
            if ((err as { code?: string }).code !== "55006" || attempt >= 100) throw err;
            await sleep(100);
          }
        }
      } finally {
        await a.end();
      }
    },
  };
}
