import pg from "pg";
import { expect, inject, it } from "vitest";

it("the run's PostgreSQL answers", async () => {
  const client = new pg.Client({ connectionString: `${inject("pgBaseUrl")}/postgres` });
  await client.connect();
  const res = await client.query<{ v: string }>("select version() as v");
  expect(res.rows[0]?.v).toMatch(/PostgreSQL/);
  await client.end();
});
