import { defineConfig, devices } from "@playwright/test";

const servicesPort = 3210;
const embeddedPort = 3211;
// The test harness's control endpoint (stop/start an instance); see e2e/serve.ts and e2e/ports.ts.
const controlPort = 3299;

// Debian's Chromium; Playwright's own browser download is not used.
const chromium = {
  executablePath: process.env.CHROMIUM_PATH ?? "/usr/bin/chromium",
  args: [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
  ],
};

export default defineConfig({
  testDir: "./e2e",
  fullyParallel: false,
  workers: 1,
  // Retries would hide flakiness; a flaky test is a bug to fix.
  retries: 0,
  forbidOnly: true,
  timeout: 30_000,
  reporter: process.env.CI ? [["list"], ["html", { open: "never" }]] : "list",
  use: {
    ...devices["Desktop Chrome"],
    launchOptions: chromium,
    trace: "retain-on-failure",
    screenshot: "only-on-failure",
  },
  projects: [
    { name: "services", use: { baseURL: `http://localhost:${servicesPort}` } },
    {
      name: "embedded",
      testMatch: /(auth|api|console)\.spec\.ts/,
      use: { baseURL: `http://localhost:${embeddedPort}` },
    },
  ],
  webServer: [
    {
      // Two instances (ports 3210 and 3212) sharing Redis and Postgres.
      command: `tsx e2e/serve.ts --services --instances 2 --port ${servicesPort} --control ${controlPort}`,
      url: `http://127.0.0.1:${controlPort}/ready`,
      timeout: 120_000,
      reuseExistingServer: false,
      gracefulShutdown: { signal: "SIGTERM", timeout: 15_000 },
      stdout: "pipe",
    },
    {
      command: `tsx e2e/serve.ts --port ${embeddedPort}`,
      url: `http://localhost:${embeddedPort}/api/health`,
      timeout: 120_000,
      reuseExistingServer: false,
      gracefulShutdown: { signal: "SIGTERM", timeout: 15_000 },
      stdout: "pipe",
    },
  ],
});
