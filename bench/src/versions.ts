import { existsSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const benchDir = join(dirname(fileURLToPath(import.meta.url)), "..");
const repoRoot = join(benchDir, "..");

/** The directory of package `name` as node resolves it from `from` (the nearest node_modules upwards). */
function packageDir(name: string, from: string): string | null {
  for (let dir = from; ; dir = dirname(dir)) {
    const candidate = join(dir, "node_modules", name);
    if (existsSync(join(candidate, "package.json"))) return candidate;
    if (dirname(dir) === dir) return null;
  }
}

const versionAt = (dir: string | null) =>
  dir ? (JSON.parse(readFileSync(join(dir, "package.json"), "utf8")) as { version: string }).version : "not installed";

/**
 * The versions of the libraries under test as installed, read from their package.json at run time,
 * each resolved from where the code that uses it is (so a nested copy shows up as what it is).
 */
export function installedVersions(): Array<{ name: string; version: string; usedBy: string }> {
  const socketIo = packageDir("socket.io", benchDir);
  const engineIo = socketIo ? packageDir("engine.io", socketIo) : null;
  const api = join(repoRoot, "packages/api");
  return [
    { name: "ws", version: versionAt(packageDir("ws", benchDir)), usedBy: "raw ws server, load tools" },
    { name: "ws", version: versionAt(packageDir("ws", api)), usedBy: "Plauder's server" },
    { name: "ws", version: versionAt(engineIo ? packageDir("ws", engineIo) : null), usedBy: "Socket.IO (engine.io)" },
    {
      name: "ioredis",
      version: versionAt(packageDir("ioredis", benchDir)),
      usedBy: "raw ws server, Socket.IO adapter",
    },
    {
      name: "ioredis",
      version: versionAt(packageDir("ioredis", join(repoRoot, "packages/runtime"))),
      usedBy: "Plauder's server",
    },
    { name: "socket.io", version: versionAt(socketIo), usedBy: "Socket.IO server" },
    {
      name: "@socket.io/redis-adapter",
      version: versionAt(packageDir("@socket.io/redis-adapter", benchDir)),
      usedBy: "Socket.IO server",
    },
    { name: "@trpc/server", version: versionAt(packageDir("@trpc/server", api)), usedBy: "Plauder's server" },
  ];
}

/** "ws 8.23.0 (raw ws server, load tools; Plauder's server), ws 8.21.3 (Socket.IO (engine.io)), …" */
export function describeVersions(versions: ReturnType<typeof installedVersions>): string {
  const grouped = new Map<string, string[]>();
  for (const { name, version, usedBy } of versions) {
    const key = `${name} ${version}`;
    grouped.set(key, [...(grouped.get(key) ?? []), usedBy]);
  }
  return [...grouped].map(([key, users]) => `${key} (${users.join("; ")})`).join(", ");
}
