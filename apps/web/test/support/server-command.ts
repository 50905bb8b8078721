import { existsSync, readdirSync, statSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

export const appDir = join(dirname(fileURLToPath(import.meta.url)), "../..");
const bundle = join(appDir, "dist/server.mjs");
// Next's build: route handlers (HTTP tRPC, sign-in) run its own compiled copy of the packages, and
// process singletons are shared between the two copies, so a stale one runs yesterday's code too.
const nextBuild = join(appDir, ".next/BUILD_ID");
const sources = [join(appDir, "server.ts"), join(appDir, "src"), join(appDir, "../../packages")];

function newestSourceChange(path: string): number {
  const stat = statSync(path);
  if (!stat.isDirectory()) return /\.tsx?$/.test(path) ? stat.mtimeMs : 0;
  let newest = 0;
  for (const entry of readdirSync(path)) {
    if (entry === "node_modules" || entry === "test" || entry.startsWith(".")) continue;
    newest = Math.max(newest, newestSourceChange(join(path, entry)));
  }
  return newest;
}

/**
 * Node arguments that start the app's server as production runs it: the bundle `npm run build`
 * makes (dist/server.mjs) on plain node. Refuses a missing or stale bundle, so tests never pass or
 * fail on yesterday's code.
 */
export function serverArgs(nodeArgs: readonly string[] = []): string[] {
  if (!existsSync(bundle)) {
    throw new Error(`${bundle} is missing: run \`npm run build -w @plauder/web\` first`);
  }
  if (!existsSync(nextBuild)) {
    throw new Error(`${nextBuild} is missing: run \`npm run build -w @plauder/web\` first`);
  }
  const built = Math.min(statSync(bundle).mtimeMs, statSync(nextBuild).mtimeMs);
  if (sources.some((source) => newestSourceChange(source) > built)) {
    throw new Error(`the app's build is older than the source: run \`npm run build -w @plauder/web\` again`);
  }
  return [...nodeArgs, "--enable-source-maps", bundle];
}
