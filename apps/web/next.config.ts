import type { NextConfig } from "next";

const config: NextConfig = {
  poweredByHeader: false,
  reactStrictMode: true,
  // Workspace packages ship TypeScript source; Next compiles them with the app.
  transpilePackages: [
    "@plauder/api",
    "@plauder/auth",
    "@plauder/client",
    "@plauder/db",
    "@plauder/runtime",
    "@plauder/tutor",
  ],
  // Native code and packages with their own file loading stay plain Node requires.
  serverExternalPackages: [
    "@electric-sql/pglite",
    "@node-rs/argon2",
    "pg",
    "ioredis",
    "pino",
    "prom-client",
    "node-llama-cpp",
  ],
};

export default config;
