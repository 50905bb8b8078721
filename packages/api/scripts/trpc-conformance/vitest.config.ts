/**
 * Vitest settings for tRPC's WebSocket tests in the scratch folder trpc-conformance.sh builds (it is
 * copied there; it does not run inside this repository). They follow tRPC's own root vitest.config.ts
 * at v11.18.0: `@trpc/server` and `@trpc/client` are their sources (copied beside this file, under
 * trpc/), jsdom, globals, `--expose-gc`, and the retries of its CI.
 *
 * CONFORMANCE_ADAPTER=ours sends tRPC's test server (`__tests__/trpcServerResource.ts`, its only
 * caller of `applyWSSHandler`) to CONFORMANCE_SHIM, which serves the same `wss` with our
 * SocketProtocol; everything else, our SocketProtocol included, uses the same tRPC sources.
 */
import path from "node:path";
import { fileURLToPath } from "node:url";
import { defineConfig, type Plugin } from "vitest/config";

const here = path.dirname(fileURLToPath(import.meta.url));
const packages = path.join(here, "trpc", "packages");
const adapter = process.env.CONFORMANCE_ADAPTER ?? "stock";
const shim = process.env.CONFORMANCE_SHIM;
if (adapter !== "stock" && adapter !== "ours") throw new Error(`CONFORMANCE_ADAPTER: stock or ours, not ${adapter}`);
if (adapter === "ours" && !shim) throw new Error("CONFORMANCE_SHIM must name the adapter shim");

const wsAdapterSource = path.join(packages, "server", "src", "adapters", "ws");

/** tRPC's test server gets our adapter; every other importer keeps tRPC's. */
function ourAdapterForTheTestServer(): Plugin {
  return {
    name: "our-socket-protocol-for-trpc-tests",
    enforce: "pre",
    resolveId(source, importer) {
      const isWsAdapter = source === "@trpc/server/adapters/ws" || source === wsAdapterSource;
      if (isWsAdapter && importer?.endsWith(path.join("__tests__", "trpcServerResource.ts"))) return shim;
      return null;
    },
  };
}

export default defineConfig({
  plugins: adapter === "ours" ? [ourAdapterForTheTestServer()] : [],
  resolve: {
    alias: [
      { find: /^@trpc\/server(?=\/|$)/, replacement: path.join(packages, "server", "src") },
      { find: /^@trpc\/client(?=\/|$)/, replacement: path.join(packages, "client", "src") },
    ],
  },
  test: {
    root: here,
    include: ["tests/**/*.test.ts"],
    environment: "jsdom",
    globals: true,
    setupFiles: [path.join(here, "tests", "suppressActWarnings.ts")],
    snapshotFormat: { printBasicPrototype: true },
    execArgv: ["--expose-gc"],
    restoreMocks: true,
    // As tRPC's CI runs them (its config: `retry: process.env.CI ? 2 : 0`): a few of these tests race
    // their own server (an event emitted before a resubscription arrived) under either adapter.
    retry: Number(process.env.CONFORMANCE_RETRY ?? 2),
  },
});
