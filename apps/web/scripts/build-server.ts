/**
 * Bundles a Node entry point and the workspace packages it imports (TypeScript source) into one
 * ES module, so production runs plain JavaScript on `node`: no TypeScript loader in the process,
 * nothing transpiled at start-up. Packages from node_modules stay imports, resolved at run time.
 *
 * Run as a script it builds the app's server: `server.ts` → `dist/server.mjs`.
 */
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";

const workspaceScope = "@plauder/";

export async function bundleServer(entry: string, outfile: string): Promise<void> {
  await build({
    entryPoints: [entry],
    outfile,
    bundle: true,
    platform: "node",
    format: "esm",
    target: "node20",
    // Stack traces point at the TypeScript source (`node --enable-source-maps`).
    sourcemap: "linked",
    // No keepNames: it gives every function object its own property store, which adds up when
    // every connection creates a few dozen closures.
    keepNames: false,
    logLevel: "warning",
    plugins: [
      {
        name: "dependencies-stay-external",
        setup(builder) {
          // Bare specifiers other than the workspace's own packages: node_modules, node: builtins.
          builder.onResolve({ filter: /^[^./]/ }, (args) =>
            args.path.startsWith(workspaceScope) ? undefined : { path: args.path, external: true },
          );
        },
      },
    ],
  });
}

const appDir = resolve(dirname(fileURLToPath(import.meta.url)), "..");
if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  await bundleServer(resolve(appDir, "server.ts"), resolve(appDir, "dist/server.mjs"));
}
