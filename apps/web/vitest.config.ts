import { defineConfig } from "vitest/config";

// Integration tests start real server processes against real Redis and Postgres; files run one at a
// time so two machines' worth of processes never compete for two cores.
export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    env: { LOG_LEVEL: "warn" },
    fileParallelism: false,
    testTimeout: 60_000,
    hookTimeout: 120_000,
  },
});
