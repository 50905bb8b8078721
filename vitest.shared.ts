import { defineConfig } from "vitest/config";

/** Test settings the packages share: where tests live, quiet logs, and room for real services. */
export default defineConfig({
  test: {
    include: ["src/**/*.test.ts", "test/**/*.test.ts"],
    env: { LOG_LEVEL: "warn" },
    testTimeout: 30_000,
    hookTimeout: 60_000,
  },
});
