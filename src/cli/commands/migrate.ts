import type { Command } from "commander";
import { DEFAULT_DATABASE_URL, migrateToLatest, openStore } from "../../store/store.js";
import { withOutputFlags } from "../output/options.js";
import { printJson } from "../output.js";

export function registerMigrateCommand(program: Command): void {
  withOutputFlags(
    program
      .command("migrate")
      .description(
        "Apply pending database migrations to $AUTOPATCH_DATABASE_URL (the server also does this on start)",
      )
      .option("--database <url>", "store URL (default: $AUTOPATCH_DATABASE_URL or sqlite:./autopatch.db)"),
  ).action(async (flags: { database?: string; json?: boolean }) => {
    const store = await openStore(
      flags.database ?? process.env.AUTOPATCH_DATABASE_URL ?? DEFAULT_DATABASE_URL,
      { migrate: false },
    );
    try {
      const report = await migrateToLatest(store);
      if (flags.json) printJson(report);
      else {
        process.stdout.write(
          report.applied.length > 0 ? `applied: ${report.applied.join(", ")}\n` : "the store is up to date\n",
        );
        process.stdout.write(`schema version: ${report.current ?? "none"}\n`);
      }
    } finally {
      await store.close();
    }
  });
}
