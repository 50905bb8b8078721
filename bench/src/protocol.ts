/** The three systems under test, and what the load client must say to each. */
export type System = "raw" | "socketio" | "plauder";
export const systems: readonly System[] = ["raw", "socketio", "plauder"];
export const systemNames: Record<System, string> = {
  raw: "raw ws + ioredis",
  socketio: "Socket.IO 4 + redis-adapter",
  plauder: "Plauder",
};

/** Each run's own Redis names (set by the orchestrator), so runs never hear each other. */
const prefix = process.env.BENCH_PREFIX ?? "bench:";
export const rawChannel = `${prefix}raw`;
export const socketIoKey = `${prefix}socket.io`;

/** Messages the orchestrator sends to the load client and the publisher (over IPC). */
export type ClientCommand =
  | { type: "connect"; system: System; urls: string[]; count: number; token?: string }
  | { type: "disconnect"; keep: number }
  | { type: "reset" }
  | { type: "report" }
  | { type: "slow"; fraction: number };

export type ClientReport = {
  type: "report";
  connections: number;
  received: number;
  p50: number;
  p99: number;
  max: number;
  /** Share of one core the load client used since the last reset (0..1). */
  cpu: number;
};

export type PublishCommand = { type: "publish"; system: System; rate: number; seconds: number; bytes: number };
export type PublishReport = { type: "published"; count: number; maxLagMs: number };

/** The broadcast text: the scheduled send time (epoch ms, fractional) and padding to `bytes`. */
export function payload(scheduledMs: number, bytes: number): string {
  const head = `T=${scheduledMs.toFixed(3)};`;
  return head + "x".repeat(Math.max(0, bytes - head.length));
}

const T = "T=".charCodeAt(0);
const EQ = "=".charCodeAt(0);

/**
 * Reads the scheduled time out of a received frame without parsing its JSON: the client must stay
 * far cheaper than the servers it measures.
 */
export function scheduledTime(frame: Buffer): number | null {
  const at = frame.indexOf("T=");
  if (at < 0 || frame[at] !== T || frame[at + 1] !== EQ) return null;
  let value = 0;
  let scale = 0;
  for (let i = at + 2; i < frame.length; i++) {
    const c = frame[i] as number;
    if (c === 46) {
      scale = 1;
      continue;
    }
    if (c < 48 || c > 57) break;
    if (scale) {
      scale /= 10;
      value += (c - 48) * scale;
    } else value = value * 10 + (c - 48);
  }
  return value;
}

/** Wall-clock milliseconds with sub-millisecond resolution, comparable across processes. */
export const nowMs = () => performance.timeOrigin + performance.now();
