import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const canPin = existsSync("/usr/bin/taskset");

/** A child node process with an IPC channel, optionally pinned to one CPU with taskset. */
export type Child = {
  process: ChildProcess;
  pid: number;
  ask<T>(message: object, reply: string): Promise<T>;
  stop(): Promise<void>;
};

const running = new Set<ChildProcess>();
// However the run ends, no server or client outlives it.
process.on("exit", () => {
  for (const child of running) child.kill("SIGKILL");
});

export function startChild(script: string, env: NodeJS.ProcessEnv, cpu: number | null, nodeArgs: string[] = []): Child {
  // Bundled servers (.mjs) run on plain node, as production does; the bench's own tools run under tsx.
  const args = script.endsWith(".mjs")
    ? [...nodeArgs, "--enable-source-maps", script]
    : [...nodeArgs, "--import", "tsx", join(here, script)];
  const child =
    canPin && cpu !== null
      ? spawn("taskset", ["-c", String(cpu), process.execPath, ...args], {
          env,
          stdio: ["ignore", "inherit", "inherit", "ipc"],
        })
      : spawn(process.execPath, args, { env, stdio: ["ignore", "inherit", "inherit", "ipc"] });
  running.add(child);
  child.once("exit", () => running.delete(child));
  return {
    process: child,
    pid: child.pid as number,
    ask<T>(message: object, reply: string): Promise<T> {
      return new Promise((resolve, reject) => {
        const onMessage = (answer: { type?: string }) => {
          if (answer?.type !== reply) return;
          child.off("message", onMessage);
          child.off("exit", onExit);
          resolve(answer as T);
        };
        const onExit = (code: number | null) =>
          reject(new Error(`${script} exited (${code}) while waiting for ${reply}`));
        child.on("message", onMessage);
        child.once("exit", onExit);
        if (Object.keys(message).length > 0) child.send(message);
      });
    },
    stop() {
      return new Promise((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) return resolve();
        child.once("exit", () => resolve());
        // SIGTERM first (the servers exit cleanly, writing a CPU profile if asked), then SIGKILL.
        child.kill("SIGTERM");
        setTimeout(() => child.kill("SIGKILL"), 3_000).unref();
      });
    },
  };
}

/** Sends one IPC command and waits for its answer (or a `failed` answer, or a timeout). */
export function request<T>(child: Child, message: object, reply: string, timeoutMs: number): Promise<T> {
  return new Promise((resolve, reject) => {
    const finish = () => {
      clearTimeout(timer);
      child.process.off("message", onMessage);
      child.process.off("exit", onExit);
    };
    const onMessage = (answer: { type?: string; message?: string }) => {
      if (answer?.type === reply) {
        finish();
        resolve(answer as T);
      } else if (answer?.type === "failed") {
        finish();
        reject(new Error(`${(message as { type?: string }).type}: ${answer.message}`));
      }
    };
    const onExit = (code: number | null) => {
      finish();
      reject(new Error(`a child process exited (${code}) while waiting for "${reply}"`));
    };
    const timer = setTimeout(() => {
      finish();
      reject(new Error(`no "${reply}" within ${timeoutMs / 1000} s`));
    }, timeoutMs);
    child.process.on("message", onMessage);
    child.process.once("exit", onExit);
    if (Object.keys(message).length > 0) child.process.send(message);
  });
}

/** Waits for a child's first message of a type (e.g. "ready"). */
export function waitFor<T>(child: Child, type: string, timeoutMs = 60_000): Promise<T> {
  return Promise.race([
    child.ask<T>({}, type),
    new Promise<T>((_, reject) =>
      setTimeout(() => reject(new Error(`no "${type}" within ${timeoutMs} ms`)), timeoutMs),
    ),
  ]);
}

const ticksPerSecond = 100;

/** CPU seconds (user + system) a process has used so far, from /proc. */
export function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(fields[11]) + Number(fields[12])) / ticksPerSecond;
}

/** Resident memory of a process in bytes, from /proc (no collection first). */
export function rssBytes(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const kb = /VmRSS:\s+(\d+)/.exec(status)?.[1];
  return Number(kb ?? 0) * 1024;
}

export const pinned = canPin;

/** Busy and total jiffies of one CPU so far, from /proc/stat. */
export function cpuTicks(cpu: number): { busy: number; total: number } {
  const line = readFileSync("/proc/stat", "utf8")
    .split("\n")
    .find((l) => l.startsWith(`cpu${cpu} `));
  const fields = (line ?? "").trim().split(/\s+/).slice(1).map(Number);
  const idle = (fields[3] ?? 0) + (fields[4] ?? 0);
  const total = fields.reduce((sum, v) => sum + v, 0);
  return { busy: total - idle, total };
}
