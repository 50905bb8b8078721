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
  | {
      type: "connect";
      system: System;
      urls: string[];
      count: number;
      /** Access tokens, one per user (Plauder); connection n presents tokens[floor(n / perUser)]. */
      tokens: string[];
      perUser: number;
      /** The number of the first connection opened by this command, counted across the server's life. */
      firstIndex: number;
    }
  | { type: "disconnect"; keep: number }
  | { type: "reset" }
  | { type: "report" }
  | { type: "slow"; fraction: number };

export type ClientReport = {
  type: "report";
  connections: number;
  /** Deliveries (broadcast frames) received by all connections since the last reset. */
  received: number;
  /** Share of one core the load client used since the last reset (0..1). */
  cpu: number;
  /** CPU time the load client used since the last reset (µs). */
  cpuMicros: number;
} & DeliveryFigures;

/** How the deliveries since the last reset went, as the load client saw them (and a sweep step reports them). */
export type DeliveryFigures = {
  /** Fewest and most deliveries one reading connection received since the last reset. */
  minPerClient: number;
  maxPerClient: number;
  /** Connections counted in minPerClient/maxPerClient: open ones that were not told to stop reading. */
  readingClients: number;
  /** Deliveries whose latency was recorded (those of the timed connections). */
  timed: number;
  /** Delivery-sized frames on timed connections that carried no send time: should stay 0. */
  malformed: number;
  /** Frames that are neither a delivery nor expected protocol traffic (heartbeats): should stay 0. */
  unexpected: number;
  p50: number;
  p99: number;
  max: number;
};

/** The delivery figures of a client report, in their order. */
export function deliveryFigures(report: ClientReport): DeliveryFigures {
  const { minPerClient, maxPerClient, readingClients, timed, malformed, unexpected, p50, p99, max } = report;
  return { minPerClient, maxPerClient, readingClients, timed, malformed, unexpected, p50, p99, max };
}

export type PublishCommand = { type: "publish"; system: System; rate: number; seconds: number; bytes: number };
export type PublishReport = { type: "published"; count: number; maxLagMs: number };

/**
 * Bytes of broadcast text in every published message. Every system's delivery frame carries the whole
 * text, so a text frame at least this long is a delivery; the other frames on a subscribed connection
 * are heartbeats of a few bytes.
 */
export const payloadBytes = 200;

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
export function scheduledTime(frame: Buffer, start = 0, end = frame.length): number | null {
  const at = frame.indexOf("T=", start);
  if (at < 0 || at + 2 >= end || frame[at] !== T || frame[at + 1] !== EQ) return null;
  let value = 0;
  let scale = 0;
  for (let i = at + 2; i < end; i++) {
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
