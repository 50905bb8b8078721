import { execFileSync, spawnSync } from "node:child_process";
import { chmodSync, chownSync, existsSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort } from "@plauder/runtime/testing";

/**
 * A PostgreSQL server of the test's own (initdb into a temporary directory, its own port), so the
 * test can stop and restart it without touching the machine's shared server. Needs the Debian
 * `postgresql` package's binaries; as root they run as the `postgres` user, as Postgres requires.
 */
export type PostgresServer = {
  url: string;
  /** Stops the server the hard way (`pg_ctl -m immediate`: no checkpoint, crash recovery on start). */
  stop(): void;
  start(): void;
  /** Stops it and deletes its files. */
  destroy(): void;
};

function binDir(): string {
  try {
    return execFileSync("pg_config", ["--bindir"], { encoding: "utf8" }).trim();
  } catch {
    const root = "/usr/lib/postgresql";
    const versions = existsSync(root) ? readdirSync(root).sort((a, b) => Number(b) - Number(a)) : [];
    if (versions[0] && existsSync(join(root, versions[0], "bin", "initdb"))) return join(root, versions[0], "bin");
    throw new Error("PostgreSQL's server binaries (initdb, pg_ctl) are not installed: apt-get install postgresql");
  }
}

export async function startPostgresServer(): Promise<PostgresServer> {
  const bin = binDir();
  if (!existsSync(join(bin, "initdb"))) {
    throw new Error(`initdb not found in ${bin}: apt-get install postgresql`);
  }
  const asRoot = process.getuid?.() === 0;
  const dir = mkdtempSync(join(tmpdir(), "plauder-pg-"));
  if (asRoot) {
    const uid = Number(execFileSync("id", ["-u", "postgres"], { encoding: "utf8" }).trim());
    const gid = Number(execFileSync("id", ["-g", "postgres"], { encoding: "utf8" }).trim());
    chownSync(dir, uid, gid);
  }
  chmodSync(dir, 0o700);
  const port = await freePort();
  const data = join(dir, "data");
  const run = (tool: string, args: string[]) => {
    const [command, argv] = asRoot
      ? ["runuser", ["-u", "postgres", "--", join(bin, tool), ...args]]
      : [join(bin, tool), args];
    const result = spawnSync(command, argv, { encoding: "utf8", cwd: dir });
    if (result.status !== 0) throw new Error(`${tool} failed: ${result.stderr || result.stdout}`);
  };
  run("initdb", ["-D", data, "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync"]);
  const options = `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off -c full_page_writes=off`;
  const start = () =>
    run("pg_ctl", ["-D", data, "-o", options, "-l", join(dir, "server.log"), "-w", "-t", "30", "start"]);
  const stop = () => run("pg_ctl", ["-D", data, "-m", "immediate", "-w", "stop"]);
  start();
  return {
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    stop,
    start,
    destroy() {
      try {
        stop();
      } catch {
        // Already stopped.
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
