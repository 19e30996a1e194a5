import { defineConfig } from "vitest/config";

// npm run bench: bench/*.bench.ts, run once like a test file, with no time limit; the report is
// printed and written to bin/bench-results.{txt,json}. Not part of `npm test`.
export default defineConfig({
  test: {
    include: ["bench/**/*.bench.ts"],
    pool: "forks",
    testTimeout: 0,
    hookTimeout: 0,
    reporters: ["default"],
  },
});
