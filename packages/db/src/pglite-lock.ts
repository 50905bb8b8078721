import { closeSync, mkdirSync, openSync, readFileSync, rmSync, writeSync } from "node:fs";
import { dirname } from "node:path";
import { processSingleton } from "@plauder/runtime";

/** Thrown when another live process already has the embedded database open. */
export class DatabaseInUseError extends Error {
  constructor(
    readonly dataDir: string,
    readonly ownerPid: number,
  ) {
    super(
      `The embedded database at ${dataDir} is already open in process ${ownerPid}. ` +
        "PGlite serves one process only: stop that process, or set DATABASE_URL (and REDIS_URL) to run several instances.",
    );
    this.name = "DatabaseInUseError";
  }
}

/** Lock files this process holds; survives duplicate module copies (see processSingleton). */
const heldLocks = processSingleton("pgliteLocks", () => new Set<string>());

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM means the process exists but belongs to someone else: still alive.
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

/**
 * Takes an exclusive lock file beside a PGlite data directory and returns its release function.
 *
 * PGlite has no lock of its own, and two processes opening one directory corrupt it. The file holds
 * the owner's pid; a lock left by a process that died is taken over.
 */
export function lockDataDir(dataDir: string): () => void {
  const lockPath = `${dataDir}.lock`;
  mkdirSync(dirname(lockPath), { recursive: true });
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = openSync(lockPath, "wx", 0o600);
      writeSync(fd, String(process.pid));
      closeSync(fd);
      heldLocks.add(lockPath);
      let released = false;
      const release = () => {
        if (released) return;
        released = true;
        heldLocks.delete(lockPath);
        rmSync(lockPath, { force: true });
        process.off("exit", release);
      };
      process.on("exit", release);
      return release;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
      const ownerPid = Number.parseInt(readFileSync(lockPath, "utf8"), 10);
      // Our own pid in the file is ours only if we took it; otherwise it is left from an earlier
      // life of a container whose server always runs as the same pid.
      const ownedHere = ownerPid === process.pid && heldLocks.has(lockPath);
      if (ownedHere || (Number.isInteger(ownerPid) && ownerPid !== process.pid && isAlive(ownerPid))) {
        throw new DatabaseInUseError(dataDir, ownerPid);
      }
      rmSync(lockPath, { force: true });
    }
  }
  throw new Error(`Could not lock ${lockPath}`);
}
