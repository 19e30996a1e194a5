import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    // Each file in its own process: Pulumi's runtime is global, and servers are per file.
    pool: "forks",
    isolate: true,
    testTimeout: 120_000,
    hookTimeout: 120_000,
    reporters: ["default", "json"],
    // .ci/run prints its summary line from this file.
    outputFile: { json: "bin/test-results.json" },
  },
});
